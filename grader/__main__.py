from grader.entry import run

run()
