"""Loads every ``coordination/lua/*.lua`` once and runs it by name.

Scripts run by SHA; after SCRIPT FLUSH or a Redis restart the server answers NOSCRIPT and the
script is loaded again transparently (redis-py's Script does that, also inside pipelines).
Each file must start with a comment header naming its KEYS and ARGV.
"""

from __future__ import annotations

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

    async def acall(self, name: str, keys: list[str], args: list[Any], client: Any = None) -> Any:
        """Run ``name`` (asyncio)."""
        try:
            return await self._ascript(name)(keys=keys, args=args, client=client or self._client)  # type: ignore[arg-type]
        except NoScriptError:
            raise
        except ResponseError as exc:
            raise ScriptError(f"{name}: {exc}") from exc
