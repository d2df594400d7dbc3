"""A Starlette app and a FastAPI app with the same routes, for tests/python/test_frameworks.py.

    GET  /                  JSON
    GET  /items/{id:int}    path parameter (int); FastAPI also takes ?q=
    GET  /search?q=&n=      query parameters (repeated 'tag' too)
    POST /form              urlencoded or multipart form -> JSON echo (python-multipart)
    POST /json              JSON body -> JSON echo
    GET  /stream?n=         streaming (chunked) response, n lines
    GET  /teapot            raises TeapotError -> exception handler -> 418 JSON
    GET  /crash             raises RuntimeError -> 500
    anything else           404
"""
import asyncio
from typing import List, Optional

from fastapi import FastAPI, Form, Query, Request as FastAPIRequest
from fastapi.responses import JSONResponse as FastAPIJSONResponse
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route


class TeapotError(Exception):
    pass


def _lines(n: int):
    async def gen():
        for i in range(n):
            yield f"chunk {i}\n".encode()
            await asyncio.sleep(0.01)
    return gen()


# --------------------------------------------------------------------------- Starlette
async def s_root(request: Request):
    return JSONResponse({"framework": "starlette", "hello": "world"})


async def s_item(request: Request):
    return JSONResponse({"item_id": request.path_params["item_id"]})


async def s_search(request: Request):
    qp = request.query_params
    return JSONResponse({"q": qp.get("q"), "n": int(qp.get("n", "0")), "tags": qp.getlist("tag")})


async def s_form(request: Request):
    form = await request.form()
    out = {}
    for key, value in form.multi_items():
        if hasattr(value, "read"):
            out[key] = {"filename": value.filename, "size": len(await value.read())}
        else:
            out[key] = value
    return JSONResponse({"form": out})


async def s_json(request: Request):
    return JSONResponse({"received": await request.json()})


async def s_stream(request: Request):
    return StreamingResponse(_lines(int(request.query_params.get("n", "3"))), media_type="text/plain")


async def s_teapot(request: Request):
    raise TeapotError("short and stout")


async def s_crash(request: Request):
    raise RuntimeError("deliberate crash")


async def s_teapot_handler(request: Request, exc: TeapotError):
    return JSONResponse({"error": "teapot", "detail": str(exc)}, status_code=418)


starlette_app = Starlette(
    routes=[
        Route("/", s_root),
        Route("/items/{item_id:int}", s_item),
        Route("/search", s_search),
        Route("/form", s_form, methods=["POST"]),
        Route("/json", s_json, methods=["POST"]),
        Route("/stream", s_stream),
        Route("/teapot", s_teapot),
        Route("/crash", s_crash),
    ],
    exception_handlers={TeapotError: s_teapot_handler},
)


# --------------------------------------------------------------------------- FastAPI
fastapi_app = FastAPI()


class Payload(BaseModel):
    name: str
    count: int = 1


@fastapi_app.exception_handler(TeapotError)
async def f_teapot_handler(request: FastAPIRequest, exc: TeapotError):
    return FastAPIJSONResponse({"error": "teapot", "detail": str(exc)}, status_code=418)


@fastapi_app.get("/")
async def f_root():
    return {"framework": "fastapi", "hello": "world"}


@fastapi_app.get("/items/{item_id}")
async def f_item(item_id: int, q: Optional[str] = None):
    return {"item_id": item_id, "q": q}


@fastapi_app.get("/search")
async def f_search(q: Optional[str] = None, n: int = 0, tag: List[str] = Query(default=[])):
    return {"q": q, "n": n, "tags": tag}


@fastapi_app.post("/form")
async def f_form(name: str = Form(...), color: str = Form("none")):
    return {"form": {"name": name, "color": color}}


@fastapi_app.post("/json")
async def f_json(payload: Payload):
    return {"received": payload.dict()}


@fastapi_app.get("/stream")
async def f_stream(n: int = 3):
    return StreamingResponse(_lines(n), media_type="text/plain")


@fastapi_app.get("/teapot")
async def f_teapot():
    raise TeapotError("short and stout")


@fastapi_app.get("/crash")
async def f_crash():
    raise RuntimeError("deliberate crash")
