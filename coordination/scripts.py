"""Loads every ``coordination/lua/*.lua`` once and runs it by name.

Scripts run by SHA; after SCRIPT FLUSH or a Redis restart the server answers NOSCRIPT and the
script is loaded again transparently (redis-py's Script does that, also inside pipelines).
Each file must start with a comment header naming its KEYS and ARGV.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import redis
import redis.asyncio
from redis.commands.core import AsyncScript, Script
from redis.exceptions import NoScriptError, ResponseError

from coordination.errors import ScriptError

LUA_DIR = Path(__file__).parent / "lua"


def _check_header(name: str, source: str) -> None:
    header = []
    for line in source.splitlines():
        if not line.startswith("--"):
            break
        header.append(line)
    text = "\n".join(header)
    if "KEYS" not in text or "ARGV" not in text:
        raise ScriptError(f"lua/{name}.lua: header must document KEYS and ARGV")


@cache
def script_sha(name: str) -> str:
    return hashlib.sha1(script_source(name).encode()).hexdigest()


@cache
def script_source(name: str) -> str:
    path = LUA_DIR / f"{name}.lua"
    if not path.is_file():
        raise ScriptError(f"no Lua script named {name!r} in {LUA_DIR}")
    source = path.read_text()
    _check_header(name, source)
    return source


def all_script_names() -> list[str]:
    return sorted(p.stem for p in LUA_DIR.glob("*.lua"))


class Scripts:
    """Registry of the package's Lua scripts for one client (sync or asyncio)."""

    def __init__(self, client: redis.Redis | redis.asyncio.Redis):
        self._client = client
        self._sync: dict[str, Script] = {}
        self._async: dict[str, AsyncScript] = {}

    def _script(self, name: str) -> Script:
        script = self._sync.get(name)
        if script is None:
            script = self._sync[name] = Script(self._client, script_source(name))  # type: ignore[arg-type]
        return script

    def _ascript(self, name: str) -> AsyncScript:
        script = self._async.get(name)
        if script is None:
            script = self._async[name] = AsyncScript(self._client, script_source(name))  # type: ignore[arg-type]
        return script

    def call(self, name: str, keys: list[str], args: list[Any], client: Any = None) -> Any:
        """Run ``name`` (sync). ``client`` may be a pipeline: the result then comes from execute()."""
        try:
            return self._script(name)(keys=keys, args=args, client=client or self._client)  # type: ignore[arg-type]
        except NoScriptError:
            raise
        except ResponseError as exc:
            raise ScriptError(f"{name}: {exc}") from exc

    def queue(self, pipe: Any, name: str, keys: list[str], args: list[Any]) -> None:
        """Queue ``name`` on a pipeline as a bare EVALSHA. Unlike a redis-py Script in a
        pipeline, this costs no SCRIPT EXISTS round trip per execute; the caller runs the
        pipeline with raise_on_error=False and hands the replies to ``settle``."""
        pipe.evalsha(script_sha(name), len(keys), *keys, *args)

    def settle(
        self, replies: list[Any], calls: list[tuple[str, list[str], list[Any]] | None]
    ) -> list[Any]:
        """Replies of a pipeline built with ``queue``: an entry that met NOSCRIPT (after
        SCRIPT FLUSH or a restart) is run again on its own, which loads the script; any other
        error is raised. ``calls`` holds (name, keys, args) per entry, None for plain commands."""
        out = list(replies)
        for i, reply in enumerate(out):
            call = calls[i]
            if call is not None and isinstance(reply, NoScriptError):
                out[i] = self.call(*call)
            elif isinstance(reply, ResponseError):
                raise ScriptError(f"{call[0] if call else 'command'}: {reply}") from reply
        return out

    async def asettle(
        self, replies: list[Any], calls: list[tuple[str, list[str], list[Any]] | None]
    ) -> list[Any]:
        out = list(replies)
        for i, reply in enumerate(out):
            call = calls[i]
            if call is not None and isinstance(reply, NoScriptError):
                out[i] = await self.acall(*call)
            elif isinstance(reply, ResponseError):
                raise ScriptError(f"{call[0] if call else 'command'}: {reply}") from reply
        return out

    async def acall(self, name: str, keys: list[str], args: list[Any], client: Any = None) -> Any:
        """Run ``name`` (asyncio)."""
        try:
            return await self._ascript(name)(keys=keys, args=args, client=client or self._client)  # type: ignore[arg-type]
        except NoScriptError:
            raise
        except ResponseError as exc:
            raise ScriptError(f"{name}: {exc}") from exc
