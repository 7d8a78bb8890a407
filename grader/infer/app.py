"""The service's routes, framework and port, read from its Python source with `ast`.

FastAPI and Flask apps, routers and blueprints (with their prefixes), `uvicorn.run` and
`app.run` ports, Prometheus exporters, and the request model of the predict route.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from grader.infer.draft import Draft, Sure
from grader.infer.files import RepoFiles

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
HEALTH = ("/health", "/healthz", "/healthcheck", "/health_check", "/ping", "/status", "/livez")
READY = ("/ready", "/readyz", "/readiness")
MODEL_INFO = ("/model", "/model-info", "/model_info", "/info", "/metadata", "/version")
FRAMEWORKS = {"fastapi": "FastAPI", "flask": "Flask"}
PREDICT_WORDS = ("predict", "invocations", "score", "inference", "infer")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    where: str
    function: ast.AST | None = None


@dataclass
class App:
    framework: str | None = None
    framework_at: str = ""
    routes: list[Route] = field(default_factory=list)
    openapi: str | None = "/openapi.json"
    openapi_at: str = ""
    metrics_at: str = ""
    port: int | None = None
    port_at: str = ""
    models: dict[str, ast.ClassDef] = field(default_factory=dict)
    model_files: dict[str, str] = field(default_factory=dict)


def read_app(files: RepoFiles) -> App:
    app = App()
    prefixes: dict[str, str] = {}
    mounted: dict[str, str] = {}
    trees: list[tuple[str, ast.Module]] = []
    for rel in files.python_files():
        if _is_test(rel):
            continue
        try:
            tree = ast.parse(files.text(rel) or "", filename=rel)
        except (SyntaxError, ValueError):
            continue
        trees.append((rel, tree))
        _collect_objects(rel, tree, app, prefixes, mounted)
    for rel, tree in trees:
        _collect_routes(rel, tree, app, {**prefixes, **mounted})
    return app


def _is_test(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1]
    return name.startswith("test_") or name.endswith("_test.py") or "tests" in parts[:-1]


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _literal(node: ast.AST | None) -> Any:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _kwarg(call: ast.Call, name: str) -> ast.AST | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _port_value(node: ast.AST | None) -> int | None:
    """8000, or the default of int(os.environ.get("PORT", 8000)) / os.getenv("PORT", "8000")."""
    value = _literal(node)
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    if isinstance(node, ast.Call):
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            found = _port_value(arg)
            if found is not None and found > 79:
                return found
    return None


def _collect_objects(
    rel: str, tree: ast.Module, app: App, prefixes: dict[str, str], mounted: dict[str, str]
) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
            _call_name(b) in ("BaseModel", "RootModel") for b in node.bases
        ):
            app.models[node.name] = node
            app.model_files[node.name] = rel
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            kind = _call_name(node.value)
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            where = f"{rel}:{node.lineno}"
            if kind in ("FastAPI", "Flask") and app.framework is None:
                app.framework, app.framework_at = kind.lower(), where
                if kind == "Flask":
                    app.openapi, app.openapi_at = None, where
                elif (url := _kwarg(node.value, "openapi_url")) is not None:
                    app.openapi, app.openapi_at = _literal(url), where
            if kind in ("APIRouter", "Blueprint"):
                prefix = _kwarg(node.value, "prefix" if kind == "APIRouter" else "url_prefix")
                for name in targets:
                    prefixes[name] = str(_literal(prefix) or "")
            if kind in ("PrometheusMetrics", "GunicornPrometheusMetrics", "Instrumentator"):
                app.metrics_at = app.metrics_at or where
        if isinstance(node, ast.Call):
            _collect_call(rel, node, app, mounted)


def _collect_call(rel: str, node: ast.Call, app: App, mounted: dict[str, str]) -> None:
    name = _call_name(node)
    where = f"{rel}:{node.lineno}"
    if name in ("include_router", "register_blueprint") and node.args:
        prefix = _kwarg(node, "prefix" if name == "include_router" else "url_prefix")
        if isinstance(node.args[0], ast.Name) and prefix is not None:
            mounted[node.args[0].id] = str(_literal(prefix) or "")
    if name == "run" and isinstance(node.func, ast.Attribute):
        port = _port_value(_kwarg(node, "port"))
        if port is not None and app.port is None:
            app.port, app.port_at = port, where
    if name == "expose" and "/metrics" not in {r.path for r in app.routes}:
        endpoint = _literal(_kwarg(node, "endpoint")) or "/metrics"
        app.routes.append(Route("GET", str(endpoint), where))
        app.metrics_at = app.metrics_at or where
    if name == "mount" and node.args and _call_name(node.args[-1]) == "make_asgi_app":
        app.routes.append(Route("GET", str(_literal(node.args[0]) or "/metrics"), where))


def _collect_routes(rel: str, tree: ast.Module, app: App, prefixes: dict[str, str]) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                app.routes += _decorated(rel, decorator, node, prefixes)
        if isinstance(node, ast.Call) and _call_name(node) == "add_url_rule" and node.args:
            path = _literal(node.args[0])
            methods = _literal(_kwarg(node, "methods")) or ["GET"]
            if isinstance(path, str):
                owner = _owner(node.func)
                for method in methods:
                    full = prefixes.get(owner, "") + path
                    app.routes.append(Route(str(method).upper(), full, f"{rel}:{node.lineno}"))


def _owner(func: ast.AST) -> str:
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.value.id
    return ""


def _decorated(
    rel: str, decorator: ast.AST, function: ast.AST, prefixes: dict[str, str]
) -> list[Route]:
    if not isinstance(decorator, ast.Call) or not isinstance(decorator.func, ast.Attribute):
        return []
    verb = decorator.func.attr
    path = _literal(decorator.args[0]) if decorator.args else _literal(_kwarg(decorator, "path"))
    if not isinstance(path, str):
        return []
    full = prefixes.get(_owner(decorator.func), "") + path
    where = f"{rel}:{decorator.lineno}"
    if verb in HTTP_METHODS:
        return [Route(verb.upper(), full, where, function)]
    if verb in ("route", "api_route"):
        methods = _literal(_kwarg(decorator, "methods")) or ["GET"]
        return [Route(str(m).upper(), full, where, function) for m in methods]
    return []


# to the draft ------------------------------------------------------------------------------


def app_files(app: App) -> list[str]:
    """The files that create the app or declare its routes."""
    found = {r.where.rsplit(":", 1)[0] for r in app.routes}
    if app.framework_at:
        found.add(app.framework_at.rsplit(":", 1)[0])
    return sorted(found)


def infer_app(app: App, draft: Draft) -> App:
    if app.framework:
        draft.note("service", f"a {FRAMEWORKS[app.framework]} app ({app.framework_at})")
    gets = {r.path: r for r in app.routes if r.method == "GET"}
    posts = [r for r in app.routes if r.method == "POST"]
    _pick(draft, "service.health_path", gets, HEALTH, "no GET health route in the code")
    health = gets.get(str(draft.value("service.health_path")))
    said = _status_said(health.function) if health else None
    if health is not None and said is not None:
        draft.set("service.health_body", {"status": said}, health.where, "medium")
    _pick_optional(draft, "service.ready_path", gets, READY, "no readiness route in the code")
    _pick_optional(draft, "service.model_info_path", gets, MODEL_INFO, "no model-info route")
    metrics = gets.get("/metrics")
    if metrics is not None:
        draft.set("service.metrics_path", "/metrics", metrics.where)
    elif app.framework:
        draft.set("service.metrics_path", None, "no /metrics route or exporter in the code")
    predict = _predict_route(posts)
    if predict is not None:
        draft.set("service.predict_path", predict.path, predict.where)
    elif app.framework:
        draft.missing("service.predict_path", "no POST route that predicts in the code")
    if app.framework:
        source = app.openapi_at or app.framework_at
        sure: Sure = "high" if app.framework == "fastapi" else "medium"
        if app.openapi is None:
            source += " (Flask serves no OpenAPI)" if app.framework == "flask" else ""
        draft.set("service.openapi_path", app.openapi, source, sure)
    if app.port is not None:
        draft.set("service.port", app.port, app.port_at, "medium")
    return app


def _pick(
    draft: Draft, path: str, gets: dict[str, Route], names: tuple[str, ...], why: str
) -> None:
    route = _named(gets, names)
    if route is None:
        draft.missing(path, why)
    else:
        sure: Sure = "high" if route.path.endswith(names[:3]) else "medium"
        draft.set(path, route.path, route.where, sure)


def _pick_optional(
    draft: Draft, path: str, gets: dict[str, Route], names: tuple[str, ...], why: str
) -> None:
    route = _named(gets, names)
    if route is not None:
        draft.set(path, route.path, route.where)
    elif gets:
        draft.set(path, None, why)


def _named(gets: dict[str, Route], names: tuple[str, ...]) -> Route | None:
    """The route named like one of `names` (in their order), also under a prefix (/api/ping)."""
    for name in names:
        if name in gets:
            return gets[name]
        prefixed = sorted(p for p in gets if p.endswith(name) and p[: -len(name)].count("/") == 1)
        if prefixed:
            return gets[prefixed[0]]
    return None


def _status_said(function: ast.AST | None) -> str | None:
    """The literal `status` a health route answers with: return {"status": "ok"} or
    jsonify(status="ok"); None when it says something else or computes it."""
    if function is None:
        return None
    for node in ast.walk(function):
        if not isinstance(node, ast.Return) or node.value is None:
            continue
        value = node.value
        if isinstance(value, ast.Call) and _call_name(value) == "jsonify":
            said = _literal(_kwarg(value, "status"))
            value = value.args[0] if value.args and said is None else value
            if isinstance(said, str):
                return said
        body = _literal(value)
        if isinstance(body, dict) and isinstance(body.get("status"), str):
            return str(body["status"])
    return None


def _predict_route(posts: list[Route]) -> Route | None:
    for word in PREDICT_WORDS:
        exact = [r for r in posts if r.path.rstrip("/").endswith("/" + word)]
        if exact:
            return sorted(exact, key=lambda r: len(r.path))[0]
    for word in PREDICT_WORDS:
        near = [r for r in posts if word in r.path and "batch" not in r.path]
        if near:
            return near[0]
    return posts[0] if len(posts) == 1 else None


@dataclass(frozen=True)
class ModelBody:
    """A body from the predict route's request model. `unknown`: the fields (with their
    types) that declare no example or default: their values are the TA's to write."""

    body: dict[str, Any]
    where: str
    unknown: tuple[str, ...]


def model_body(app: App, route: Route) -> ModelBody | None:
    """The body the request model's examples and defaults give; None when the route takes
    no model."""
    function = route.function
    if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    for arg in function.args.args:
        name = _call_name(arg.annotation) if arg.annotation else ""
        if name in app.models:
            cls = app.models[name]
            unknown: list[str] = []
            body = _fields(app, cls, 0, unknown)
            return ModelBody(body, f"{app.model_files[name]}:{cls.lineno} ({name})", tuple(unknown))
    return None


def _fields(app: App, cls: ast.ClassDef, depth: int, unknown: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for node in cls.body:
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            continue
        body[node.target.id] = _field_value(app, node, depth, unknown)
    return body


def _field_value(app: App, node: ast.AnnAssign, depth: int, unknown: list[str]) -> Any:
    value = node.value
    if isinstance(value, ast.Call) and _call_name(value) == "Field":
        for key in ("example", "examples"):
            example = _literal(_kwarg(value, key))
            if example is not None:
                return example[0] if key == "examples" and isinstance(example, list) else example
        default = _literal(value.args[0]) if value.args else None
        if default is not None and default is not Ellipsis:
            return default
    elif value is not None and (default := _literal(value)) is not None:
        return default
    annotation = ast.unparse(node.annotation)
    inner = annotation.removeprefix("list[").removeprefix("List[").rstrip("]")
    if inner in app.models and depth < 3:
        item = _fields(app, app.models[inner], depth + 1, unknown)
        return [item] if annotation != inner else item
    assert isinstance(node.target, ast.Name)
    unknown.append(f"{node.target.id}: {annotation}")
    return None
