"""The built-in default data: a deterministic, movie-like interaction log.

What makes it movie-like, and why a sequence model should beat popularity on it:
- long-tail popularity (Zipf) inside taste clusters ("genres");
- each user has favourite clusters but drifts: the current cluster is sticky from one movie to
  the next, so RECENT movies say more than the whole history;
- series (sequels) are watched in order: after part n, part n+1 is likely next.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import check_seed
from .errors import ConfigError


def synthetic_log(n_users: int = 3000, n_movies: int = 1200, n_clusters: int = 12, n_series: int = 120,
                  seed: int = 7) -> pd.DataFrame:
    """A log with columns `user`, `item`, `time`, `row`, ready for `prepare_log`.

    Args:
        n_users: number of users.
        n_movies: catalog size (movie ids 1..n_movies).
        n_clusters: taste clusters.
        n_series: series of 3-6 movies each, watched in order.
        seed: everything is a function of this seed.

    Returns:
        The log, one row per watch event.
    """
    if n_users < 1:
        raise ConfigError(f"synthetic data needs --users >= 1, got {n_users}")
    if n_movies < 2 * n_clusters:
        raise ConfigError(f"synthetic data needs --movies >= {2 * n_clusters} ({n_clusters} taste clusters), "
                          f"got {n_movies}")
    check_seed(seed)
    # Series use at most ~60% of a small catalog (the default 1200 movies keep all 120 series).
    n_series = min(n_series, n_movies // 10)
    rng = np.random.default_rng(seed)
    movie_ids = np.arange(1, n_movies + 1)
    cluster = rng.integers(n_clusters, size=n_movies)
    popularity = 1.0 / (rng.permutation(n_movies) + 5.0) ** 1.0
    members = [np.flatnonzero(cluster == c) for c in range(n_clusters)]
    weights = [popularity[m] / popularity[m].sum() for m in members]

    # Series: disjoint runs of movies inside one cluster; next_part[i] = the sequel's position.
    next_part = np.full(n_movies, -1)
    free = rng.permutation(n_movies)
    used = 0
    for _ in range(n_series):
        length = int(rng.integers(3, 7))
        parts = free[used : used + length]
        used += length
        cluster[parts] = cluster[parts[0]]
        next_part[parts[:-1]] = parts[1:]
    members = [np.flatnonzero(cluster == c) for c in range(n_clusters)]
    weights = [popularity[m] / popularity[m].sum() for m in members]

    users, items, times = [], [], []
    horizon = 1_000_000.0
    for user in range(1, n_users + 1):
        favourites = rng.choice(n_clusters, size=2, replace=False)
        length = int(np.clip(rng.lognormal(3.6, 0.7), 8, 400))
        # Users join at different times and stay active to the end, so a global time cut
        # leaves most of them with both a history and a future.
        start = rng.uniform(0, horizon * 0.7)
        stamps = np.sort(rng.uniform(start, horizon, size=length))
        current = favourites[0]
        watched: set[int] = set()
        last = -1
        for step in range(length):
            sequel = next_part[last] if last >= 0 else -1
            if sequel >= 0 and sequel not in watched and rng.random() < 0.8:
                movie = int(sequel)
            else:
                if rng.random() < 0.2:  # taste drift: mostly towards a favourite
                    current = favourites[rng.integers(2)] if rng.random() < 0.7 else rng.integers(n_clusters)
                # A small catalog can leave a cluster empty: then draw by popularity.
                pool = rng.random() < 0.85 and len(members[current]) > 0
                movie = -1
                for _attempt in range(30):
                    if pool:
                        cand = int(rng.choice(members[current], p=weights[current]))
                    else:
                        cand = int(rng.choice(n_movies, p=popularity / popularity.sum()))
                    if cand not in watched:
                        movie = cand
                        break
                if movie < 0:
                    continue
            watched.add(movie)
            last = movie
            users.append(user)
            items.append(int(movie_ids[movie]))
            times.append(stamps[step])
    df = pd.DataFrame({"user": users, "item": items, "time": times})
    df["row"] = np.arange(len(df))
    return df
