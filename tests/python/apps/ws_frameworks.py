"""Starlette and FastAPI WebSocket endpoints with the same routes, for test_websocket.py.

    WS  /echo              accept; echo text and bytes; the text "bye" closes with 4010;
                           records the disconnect code
    WS  /reject            websocket.close(1008) before accepting (the server answers 403)
    WS  /json              accept; receive JSON; send {"got": ..., "path": ...}; close
    WS  /items/{item_id}   FastAPI only: path and query parameters -> JSON; close
    GET /events            the recorded events as JSON
"""
from typing import Optional

from fastapi import FastAPI, WebSocket as FastAPIWebSocket
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

EVENTS = []


async def _echo(websocket, framework: str) -> None:
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            EVENTS.append({"framework": framework, "disconnect": message["code"]})
            return
        if message.get("text") == "bye":
            await websocket.close(code=4010)
            return
        if message.get("text") is not None:
            await websocket.send_text(message["text"])
        else:
            await websocket.send_bytes(message["bytes"])


async def _json(websocket, framework: str) -> None:
    await websocket.accept()
    data = await websocket.receive_json()
    await websocket.send_json({"got": data, "path": websocket.url.path, "framework": framework})
    await websocket.close()


# --------------------------------------------------------------------------- Starlette
async def s_echo(websocket: WebSocket):
    await _echo(websocket, "starlette")


async def s_reject(websocket: WebSocket):
    await websocket.close(code=1008)


async def s_json(websocket: WebSocket):
    await _json(websocket, "starlette")


async def events(request: Request):
    return JSONResponse(EVENTS)


starlette_app = Starlette(routes=[
    WebSocketRoute("/echo", s_echo),
    WebSocketRoute("/reject", s_reject),
    WebSocketRoute("/json", s_json),
    Route("/events", events),
])


# --------------------------------------------------------------------------- FastAPI
fastapi_app = FastAPI()


@fastapi_app.websocket("/echo")
async def f_echo(websocket: FastAPIWebSocket):
    await _echo(websocket, "fastapi")


@fastapi_app.websocket("/reject")
async def f_reject(websocket: FastAPIWebSocket):
    await websocket.close(code=1008)


@fastapi_app.websocket("/json")
async def f_json(websocket: FastAPIWebSocket):
    await _json(websocket, "fastapi")


@fastapi_app.websocket("/items/{item_id}")
async def f_item(websocket: FastAPIWebSocket, item_id: int, q: Optional[str] = None):
    await websocket.accept()
    await websocket.send_json({"item_id": item_id, "q": q})
    await websocket.close()


@fastapi_app.get("/events")
async def f_events():
    return EVENTS


__all__ = ["starlette_app", "fastapi_app", "WebSocketDisconnect"]
