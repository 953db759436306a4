"""What every context's Application shares: an aggregate cache whose objects never change.

eventsourcing's `Repository.get` fast-forwards a cached aggregate in place, under a
per-aggregate lock, and deep-copies it for a command outside that lock; readers that skip the
copy hold the cached object itself. Under a hot demand one thread iterated the claim book while
another fast-forwarded it (`RuntimeError: dictionary changed size during iteration`, issue 10).
Here a fast-forward applies the new events to a copy and swaps it into the cache (copy on
write), so an object once in the cache is never changed: readers share it, and a command's copy
of it is safe without any lock.
"""
from collections.abc import Callable
from copy import deepcopy

from eventsourcing.application import (AggregateNotFoundError, Application, Cache, LRUCache, Repository,
                                       project_aggregate)
from eventsourcing.utils import strtobool


class CopyOnWriteRepository(Repository):
    before_get: Callable[[], None] | None = None  # set by api/wiring.py: drop what an erasure made stale

    def get(self, aggregate_id, *, version=None, projector_func=project_aggregate, fastforward_skipping=False,
            deepcopy_from_cache=True):
        if self.before_get is not None:
            self.before_get()
        if self.cache is None or version is not None or not self.fastforward:
            return super().get(aggregate_id, version=version, projector_func=projector_func,
                               deepcopy_from_cache=deepcopy_from_cache)
        aggregate = self._current(aggregate_id, projector_func)
        return deepcopy(aggregate) if deepcopy_from_cache and self.deepcopy_from_cache else aggregate

    def _current(self, aggregate_id, projector_func):
        """The cached aggregate brought up to date with the store; replaced, never changed."""
        lock = self._use_fastforward_lock(aggregate_id)
        try:
            with lock:
                try:
                    cached = self.cache.get(aggregate_id)
                except KeyError:
                    aggregate = self._reconstruct_aggregate(aggregate_id, None, projector_func)
                    self.cache.put(aggregate_id, aggregate)
                    return aggregate
                new_events = list(self.event_store.get(originator_id=aggregate_id, gt=cached.version))
                if not new_events:
                    return cached
                aggregate = projector_func(deepcopy(cached), new_events)
                if aggregate is None:
                    raise AggregateNotFoundError(aggregate_id)
                self.cache.put(aggregate_id, aggregate)
                return aggregate
        finally:
            self._disuse_fastforward_lock(aggregate_id)


class Context(Application):
    """A bounded context's Application (registry, demands, venues, services)."""

    def construct_repository(self) -> Repository:
        """The library's repository settings (api/wiring.py sets them), with a copy-on-write cache."""
        maxsize = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        return CopyOnWriteRepository(
            event_store=self.events, snapshot_store=self.snapshots, cache_maxsize=int(maxsize) if maxsize else None,
            fastforward=strtobool(self.env.get(self.AGGREGATE_CACHE_FASTFORWARD, "y")))

    def forget_cached(self) -> None:
        """Drop every cached aggregate (after an erasure they hold text that now decodes as 已删除).
        A new cache, not `clear()`: the library's LRUCache.clear leaves its dictionary full."""
        cache = self.repository.cache
        if cache is not None:
            self.repository.cache = LRUCache(cache.maxsize) if isinstance(cache, LRUCache) else Cache()
