"""`market demo` loads the compensation scenario through the public API (twice: it never
collides with what an earlier run made)."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from market.demo import load_demo
from tests.api.conftest import OPERATOR_TOKEN


async def test_the_demo_loads_twice(client: AsyncTestClient[Any]) -> None:
    for _ in range(2):
        summary = await load_demo(client, OPERATOR_TOKEN)
        log = "\n".join(summary["log"])
        assert "森林固碳分类补偿: paid 2407.50; excluded 1 (double claim)" in log
        assert "森林水源涵养分类补偿: paid 5482.75, 3651.38; excluded 0" in log
        assert "生态涵养区综合性补偿: paid 59020.56, 40979.44" in log
        assert "class 2, downstream → upstream 1000000.00" in log
        assert "class 4, upstream → downstream 1000000.00" in log
