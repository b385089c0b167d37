import time

import pytest

from shop.search import search


@pytest.mark.api
class TestSearch:
    @pytest.mark.smoke
    def test_prefix(self):
        assert search("b") == ["banana"]

    def test_none(self):
        assert search("z") == []

    @pytest.mark.slow
    def test_slow_scan(self):
        time.sleep(1.1)
        assert len(search("")) == 3
