from grader.main import main

raise SystemExit(main())
