"""The front end's side of a kernel websocket, as Voila 0.5's page speaks it (for visitors).

What @jupyterlab/services and ipywidgets 8's widget manager (the ``@jupyter-widgets/
jupyterlab-manager`` Voila bundles) do with a kernel, without a browser:
:class:`WidgetFrontEnd` sends and receives ``v1.kernel.websocket.jupyter.org`` frames,
holds the widget models' states, loads them with ``request_states`` (or, without an answer in
4 s, widget by widget), sends a model's changes one at a time as ``save_changes`` does, and
lets Output widgets capture the messages of the callbacks they wrap. Used by
:mod:`tinylab.visitors`; every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import collections
import json
import struct
import uuid
from datetime import datetime, timezone

from .errors import TinyLabError

WS_PROTOCOL = "v1.kernel.websocket.jupyter.org"
CONTROL_TARGET = "jupyter.widget.control"
WIDGET_TARGET = "jupyter.widget"
#: ipywidgets 8's front end gives up on ``request_states`` after this long and asks each widget.
CONTROL_TIMEOUT_S = 4.0


class VisitError(TinyLabError):
    """One visitor's failure, in words (a visitor records it, never raises it out)."""


def message_signature(msg: dict) -> str:
    """What a kernel message is, without its ids and values: ``kernel_info_request``,
    ``comm_open jupyter.widget.control 1.0.0``, ``comm_msg update strokes``,
    ``comm_msg custom click``... (for comparing what a visitor sends with what a browser
    sends)."""
    kind = msg["header"]["msg_type"]
    content = msg.get("content") or {}
    if kind == "comm_open":
        version = (msg.get("metadata") or {}).get("version", "")
        return f"{kind} {content.get('target_name')} {version}".strip()
    if kind == "comm_msg":
        data = content.get("data") or {}
        if data.get("method") == "custom":
            return f"{kind} custom {(data.get('content') or {}).get('event', '')}".strip()
        if data.get("method") == "update":
            return f"{kind} update {','.join(sorted(data.get('state') or {}))}"
        return f"{kind} {data.get('method')}"
    return kind



def encode_v1(msg: dict) -> bytes:
    """A message as a ``v1.kernel.websocket.jupyter.org`` binary frame (jupyter_server's
    ``serialize_msg_to_ws_v1``): offsets, channel, header, parent header, metadata, content,
    buffers."""
    parts = [json.dumps(msg[key]).encode() for key in ("header", "parent_header", "metadata",
                                                          "content")]
    parts += [bytes(buffer) for buffer in msg.get("buffers") or []]
    channel = msg["channel"].encode()
    offsets = [8 * (len(parts) + 3)]
    offsets.append(offsets[-1] + len(channel))
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    head = len(offsets).to_bytes(8, "little") + b"".join(o.to_bytes(8, "little") for o in offsets)
    return head + channel + b"".join(parts)


def decode_v1(frame: bytes) -> dict:
    """The message in a v1 binary frame (``channel``, ``header``, ..., ``buffers``)."""
    count = int.from_bytes(frame[:8], "little")
    offsets = [int.from_bytes(frame[8 * (i + 1):8 * (i + 2)], "little") for i in range(count)]
    parts = [frame[offsets[i]:offsets[i + 1]] for i in range(count - 1)]  # the last: the end
    header, parent, metadata, content = (json.loads(p) for p in parts[1:5])
    return {"channel": parts[0].decode(), "header": header, "parent_header": parent,
            "metadata": metadata, "content": content, "buffers": parts[5:]}


def decode_legacy(frame) -> dict:
    """A message of the legacy (no subprotocol) websocket: JSON text, or jupyter_server's
    binary layout (part count, offsets, JSON, buffers; big-endian 32-bit)."""
    if isinstance(frame, str):
        msg = json.loads(frame)
        msg.setdefault("buffers", [])
        return msg
    count = struct.unpack("!I", frame[:4])[0]
    offsets = list(struct.unpack("!" + "I" * count, frame[4:4 * (count + 1)])) + [len(frame)]
    parts = [frame[offsets[i]:offsets[i + 1]] for i in range(count)]
    msg = json.loads(parts[0])
    msg["buffers"] = parts[1:]
    return msg


def references(value) -> set:
    """Model ids a widget state refers to (``IPY_MODEL_<id>`` strings at any depth)."""
    found = set()
    if isinstance(value, str):
        if value.startswith("IPY_MODEL_"):
            found.add(value[len("IPY_MODEL_"):])
    elif isinstance(value, dict):
        for item in value.values():
            found |= references(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found |= references(item)
    return found


def put_buffers(state: dict, paths: list, buffers: list) -> None:
    for path, buffer in zip(paths, buffers):
        target = state
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = bytes(buffer)


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WidgetFrontEnd:
    """One page's kernel connection and the widget models its front end holds."""

    def __init__(self, socket, protocol: str | None, session: str, traffic):
        self.socket, self.v1, self.session, self.traffic = socket, protocol == WS_PROTOCOL, \
            session, traffic
        self.models: dict = {}          # model id -> {"name", "module", "state"}
        self.updates = collections.Counter()  # model id -> redraws received (not echoes)
        self.closed: str | None = None  # why the connection ended
        self._replies: dict = {}        # request msg id -> Future of its reply
        self._syncing: dict = {}        # update msg id -> model id, until its idle status
        self._busy: set = set()         # models with an update in flight (ipywidgets' throttle)
        self._buffered: dict = {}       # model id -> state waiting for the one in flight
        self._hooks: dict = {}          # msg id an Output widget captures -> model id
        self._clear_next: set = set()   # Output models whose next output clears them first
        self._changed = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    # sending
    async def send(self, msg_type: str, content: dict, metadata: dict | None = None,
                   msg_id: str | None = None) -> str:
        if self.closed:
            raise VisitError(f"the kernel connection is closed ({self.closed})")
        msg_id = msg_id or str(uuid.uuid4())
        msg = {"channel": "shell", "header": {
            "date": _now_iso(), "msg_id": msg_id, "msg_type": msg_type, "session": self.session,
            "username": "", "version": "5.2"}, "parent_header": {}, "metadata": metadata or {},
            "content": content, "buffers": []}
        if self.v1:
            frame, binary = encode_v1(msg), True
        else:
            frame, binary = json.dumps({k: v for k, v in msg.items() if k != "buffers"}), False
        try:
            await self.socket.write_message(frame, binary=binary)
        except Exception as error:  # tornado's WebSocketClosedError, a reset connection
            self.closed = self.closed or f"{type(error).__name__}: {error}"
            raise VisitError(f"could not send {msg_type}: the kernel connection is closed "
                             f"({self.closed})") from None
        self.traffic.sent_messages += 1
        if self.traffic.trace is not None:
            self.traffic.trace.append(f"ws {message_signature(msg)}")
        return msg_id

    async def request(self, msg_type: str, content: dict, deadline: float, what: str,
                      metadata: dict | None = None) -> dict:
        """Send a request and wait (until ``deadline``, loop time) for the message that answers
        it: a shell reply, or the comm message it asked for."""
        msg_id = str(uuid.uuid4())
        future = self._replies[msg_id] = asyncio.get_running_loop().create_future()
        try:
            await self.send(msg_type, content, metadata, msg_id)
            await self.until(future.done, deadline, what)
            return future.result()
        finally:
            self._replies.pop(msg_id, None)

    async def custom(self, model_id: str, content: dict) -> str:
        """A widget's custom message (``model.send``: no throttle, no callbacks)."""
        return await self.send("comm_msg", {"comm_id": model_id,
                                            "data": {"method": "custom", "content": content}})

    async def sync(self, model_id: str, state: dict) -> None:
        """A front-end change of ``state``, as ipywidgets' ``save_changes`` sends it: one update
        in flight per model, later changes merged until the kernel is idle again."""
        self.models.get(model_id, {}).setdefault("state", {}).update(state)
        if model_id in self._busy:
            self._buffered.setdefault(model_id, {}).update(state)
            return
        msg_id = await self.send("comm_msg", {"comm_id": model_id, "data": {
            "method": "update", "state": state, "buffer_paths": []}})
        self._busy.add(model_id)
        self._syncing[msg_id] = model_id

    # receiving
    async def _read(self) -> None:
        try:
            while True:
                frame = await self.socket.read_message()
                if frame is None:
                    code = getattr(self.socket, "close_code", None)
                    self.closed = self.closed or (f"the server closed it (code {code})" if code
                                                  else "the server closed it")
                    break
                self.traffic.received_messages += 1
                self.traffic.received_bytes += len(frame)
                msg = decode_v1(frame) if self.v1 and isinstance(frame, bytes) \
                    else decode_legacy(frame)
                await self._dispatch(msg)
                self._notify()
        except asyncio.CancelledError:
            self.closed = self.closed or "the visitor closed it"
            raise
        except Exception as error:  # a frame that does not decode ends the visit, in words
            self.closed = self.closed or f"{type(error).__name__}: {error}"
        finally:
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _dispatch(self, msg: dict) -> None:
        kind = msg["header"].get("msg_type")
        parent = (msg.get("parent_header") or {}).get("msg_id")
        content = msg.get("content") or {}
        future = self._replies.get(parent)
        if msg.get("channel") in ("shell", "control") and future is not None and \
                not future.done():
            future.set_result(msg)
            return
        if kind == "status":
            if content.get("execution_state") == "idle" and parent in self._syncing:
                model_id = self._syncing.pop(parent)
                self._busy.discard(model_id)
                if model_id in self._buffered:
                    await self.sync(model_id, self._buffered.pop(model_id))
            return
        if kind in ("display_data", "execute_result", "stream", "error", "clear_output"):
            if parent in self._hooks:
                await self._capture(self._hooks[parent], kind, content)
            return
        if kind == "comm_open" and content.get("target_name") == WIDGET_TARGET:
            data = content.get("data") or {}
            state = dict(data.get("state") or {})
            put_buffers(state, data.get("buffer_paths") or [], msg["buffers"])
            self.models[content["comm_id"]] = {"name": state.get("_model_name"),
                                               "module": state.get("_model_module"),
                                               "state": state}
            return
        if kind == "comm_close":
            self.models.pop(content.get("comm_id"), None)
            return
        if kind != "comm_msg":
            return
        data = content.get("data") or {}
        method, comm_id = data.get("method"), content.get("comm_id")
        if method == "update_states":
            if future is not None and not future.done():
                future.set_result(msg)
            return
        if method in ("update", "echo_update"):
            state = dict(data.get("state") or {})
            put_buffers(state, data.get("buffer_paths") or [], msg["buffers"])
            model = self.models.setdefault(comm_id, {"name": None, "module": None, "state": {}})
            if "msg_id" in state:
                self._hook(comm_id, model["state"].get("msg_id"), state["msg_id"])
            model["state"].update(state)
            if method == "update" and (set(state) - {"msg_id"} or data.get("buffer_paths")):
                self.updates[comm_id] += 1
            if future is not None and not future.done():
                future.set_result(msg)

    # Output widgets (ipywidgets' jupyterlab-manager OutputModel)
    def _hook(self, model_id: str, old: str | None, new: str | None) -> None:
        if old and self._hooks.get(old) == model_id:
            del self._hooks[old]
        if new:
            self._hooks[new] = model_id

    async def _capture(self, model_id: str, kind: str, content: dict) -> None:
        """One captured message, as the front end's OutputModel.add handles it: the outputs
        changed, then sent back to the kernel (the kernel's own changes are the base)."""
        outputs = list(self.models[model_id]["state"].get("outputs") or [])
        if kind == "clear_output":
            if content.get("wait"):
                self._clear_next.add(model_id)
                return
            outputs = []
        else:
            if model_id in self._clear_next:
                outputs = []
            if kind == "stream" and outputs and outputs[-1].get("output_type") == "stream" \
                    and outputs[-1].get("name") == content.get("name"):
                outputs = outputs[:-1] + [dict(outputs[-1], text=outputs[-1]["text"]
                                               + content.get("text", ""))]
            else:
                output = {"output_type": kind, **{k: v for k, v in content.items()
                                                  if k != "transient"}}
                outputs = outputs + [output]
        self._clear_next.discard(model_id)
        if outputs != list(self.models[model_id]["state"].get("outputs") or []):
            self.updates[model_id] += 1
            await self.sync(model_id, {"outputs": outputs})

    async def until(self, predicate, deadline: float, what: str) -> None:
        """Wait until ``predicate()`` holds, at most until ``deadline`` (loop time)."""
        started = asyncio.get_running_loop().time()
        while not predicate():
            if self.closed:
                raise VisitError(f"the kernel connection closed ({self.closed}) while waiting "
                                 f"for {what}")
            if seconds_left(deadline) <= 0:
                waited = asyncio.get_running_loop().time() - started
                raise VisitError(f"{what} did not come within {waited:.1f} s")
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), seconds_left(deadline))
            except asyncio.TimeoutError:
                pass

    async def load_widgets(self, views: list, deadline: float) -> bool:
        """Every model's state, as ipywidgets 8's ``_loadFromKernel`` gets them; True when it
        had to fall back (``_loadFromKernelModels``: no ``update_states`` within 4 s).

        Raises
        ------
        VisitError
            When a model the ``views`` need has no state (a browser shows "Error displaying
            widget: model not found"), or the kernel does not answer before ``deadline``.
        """
        control = str(uuid.uuid4())
        await self.send("comm_open", {"comm_id": control, "target_name": CONTROL_TARGET,
                                      "data": {}}, {"version": "1.0.0"})
        fallback = False
        try:
            reply = await self.request(
                "comm_msg", {"comm_id": control, "data": {"method": "request_states"}},
                min(deadline, asyncio.get_running_loop().time() + CONTROL_TIMEOUT_S),
                "update_states")
        except VisitError:
            if self.closed or seconds_left(deadline) <= 0:
                raise
            reply, fallback = None, True
        if reply is not None:
            await self.send("comm_close", {"comm_id": control, "data": {}})
            data = reply["content"]["data"]
            states = data.get("states") or {}
            for path, buffer in zip(data.get("buffer_paths") or [], reply["buffers"]):
                put_buffers(states[path[0]], [path[1:]], [buffer])
            for model_id, entry in states.items():
                self.models[model_id] = {"name": entry.get("model_name"),
                                         "module": entry.get("model_module"),
                                         "state": dict(entry.get("state") or {})}
        else:  # the fallback: each widget comm asked for its own state
            info = await self.request("comm_info_request", {"target_name": WIDGET_TARGET},
                                      deadline, "the comm info reply")
            comms = [c for c in (info["content"].get("comms") or {}) if c not in self.models]
            await asyncio.gather(*(self.request(
                "comm_msg", {"comm_id": comm, "data": {"method": "request_state"}}, deadline,
                f"the state of widget {comm}") for comm in comms))
            for model in self.models.values():
                model["name"] = model["name"] or model["state"].get("_model_name")
                model["module"] = model["module"] or model["state"].get("_model_module")
        missing = self.missing(views)
        if missing:
            raise VisitError(f"the kernel has no state for {len(missing)} model(s) the page "
                             f"shows (a browser shows 'Error displaying widget: model not found')")
        return fallback

    # the page's widgets
    def with_class(self, css_class: str, model_name: str | None = None) -> str | None:
        """The first model whose ``_dom_classes`` has ``css_class``."""
        for model_id, model in self.models.items():
            if css_class in (model["state"].get("_dom_classes") or ()) and (
                    model_name is None or model["name"] == model_name):
                return model_id
        return None

    def tree(self, model_id: str) -> set:
        """``model_id`` and every model it refers to, at any depth."""
        seen, todo = set(), [model_id]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            if current in self.models:
                todo += references(self.models[current]["state"])
        return seen

    def missing(self, views: list) -> set:
        """Models the views need whose state has not arrived."""
        return {m for view in views for m in self.tree(view) if m not in self.models}

    def value(self, model_id: str):
        return self.models.get(model_id, {}).get("state", {}).get("value")

    async def close(self) -> None:
        self._reader.cancel()
        try:
            self.socket.close()
        except Exception:  # already closed
            pass
        try:
            await asyncio.wait_for(asyncio.gather(self._reader, return_exceptions=True), 5)
        except asyncio.TimeoutError:
            pass


def seconds_left(deadline: float) -> float:
    return deadline - asyncio.get_running_loop().time()
