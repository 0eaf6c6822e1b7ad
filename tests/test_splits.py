"""The split-file contract and the restricted unpickler."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from trainer.errors import ConfigError, DataError
from trainer.splits import Split, history_for, load_data_dir, load_split, write_data_dir


def dump(path, obj):
    path.write_bytes(pickle.dumps(obj))
    return path


def test_roundtrip_and_numpy_arrays(tmp_path):
    splits = {"train": Split([1, 2], [[10, 11], [12]]), "validate": Split([1], [[13]]), "test": Split([2], [[14]])}
    write_data_dir(splits, tmp_path)
    assert load_data_dir(tmp_path)["train"] == splits["train"]
    arr = dump(tmp_path / "np.pkl", (np.array([3, 5]), [np.array([1, 2], dtype=np.int32), [np.int64(7)]]))
    assert load_split(arr) == Split([3, 5], [[1, 2], [7]])


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_numpy_arrays_load_from_every_pickle_protocol(tmp_path, protocol):
    # Protocols 0-2 rebuild an array's bytes through _codecs.encode (it turns the latin-1 text pickle
    # stored them as back into bytes); refusing it refused numpy splits written with protocol=2.
    path = tmp_path / "train.pkl"
    path.write_bytes(pickle.dumps((np.array([3, 5]), [np.array([1, 2], dtype=np.int32), [np.int64(7)]]), protocol))
    assert load_split(path) == Split([3, 5], [[1, 2], [7]])


def test_the_codec_the_numpy_route_needs_is_no_way_to_other_globals(tmp_path):
    # _codecs.encode only turns text into bytes; what pickle then calls with them is still checked.
    class Sneaky:
        def __reduce__(self):
            import codecs
            import os
            return (os.system, (codecs.encode("echo hi", "latin1"),))

    with pytest.raises(DataError, match=r"refused to load global (posix|os|nt)\.system"):
        load_split(dump(tmp_path / "train.pkl", ([1], [[Sneaky()]])))


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = dump(tmp_path / "train.pkl", ([1], [[Exploit(marker)]]))
    with pytest.raises(DataError, match=r"train\.pkl.*refused to load global"):
        load_split(path)
    assert not marker.exists()


def test_a_file_given_for_the_data_directory_is_named_as_such(tmp_path):
    # "data directory not found" for a file that is there, when the user named train.pkl itself
    write_data_dir({n: Split([1], [[1, 2]]) for n in ("train", "validate", "test")}, tmp_path)
    with pytest.raises(DataError, match=f"train.pkl is a file, not a data directory .*: give the directory it is "
                                        f"in, {tmp_path}$"):
        load_data_dir(tmp_path / "train.pkl")
    with pytest.raises(DataError, match="nowhere: data directory not found"):
        load_data_dir(tmp_path / "nowhere")


def test_a_dict_of_user_to_movies_is_the_same_split(tmp_path):
    # {user: movies} was refused ("expected a 2-tuple, got dict"); it says the same, by user id
    assert load_split(dump(tmp_path / "train.pkl", {5: [3, 4], 2: np.array([7])})) == Split([2, 5], [[7], [3, 4]])
    with pytest.raises(DataError, match=r"users\[\d\]: expected an int id, got str"):
        load_split(dump(tmp_path / "train.pkl", {5: [3], "u2": [4]}))


def test_a_pickled_data_frame_is_refused_with_the_way_out(tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "train.pkl"
    pd.DataFrame({"user": [1, 2], "movies": [[3, 4], [5]]}).to_pickle(path)
    with pytest.raises(DataError, match=r"global pandas\..*; a pandas object: pickle plain lists instead, e\.g\. "
                                        r"pickle\.dump\(\(users, movies_lists\), f\), or give the log to `prepare --input`"):
        load_split(path)


@pytest.mark.parametrize("obj, message", [
    ([1, 2, 3], r"expected a 2-tuple"),
    (([1, 2], [[1]]), r"length mismatch, 2 users but 1 movie lists"),
    (([2, 1], [[1], [2]]), r"strictly ascending"),
    ((["a"], [[1]]), r"users\[0\]: expected an int id, got str"),
    (([1], [[1, "7"]]), r"movies\[0\] \(user 1\)\[1\]: expected an int id, got str '7'; split files hold int "
                        r"ids: for text ids, write the events as a log and prepare it with --text-user-ids / --text-movie-ids"),
    (([1], [[1.5]]), r"expected an int id, got float"),
    (([1], [[True]]), r"expected an int id, got bool"),
    # the handler refuses such ids, so a catalog holding one would have a movie no client can send
    (([1], [[3, 2**63]]), r"movies\[0\] \(user 1\)\[1\]: id 9223372036854775808 is outside the 64-bit range"),
    (([-(2**63) - 1], [[1]]), r"users\[0\]: id -9223372036854775809 is outside the 64-bit range"),
    (([1], [5]), r"movies\[0\] \(user 1\): expected a list"),
    (([1], [np.array([1.0])]), r"expected a 1-d int array"),
])
def test_bad_structure_names_file_and_problem(tmp_path, obj, message):
    with pytest.raises(DataError, match=r"bad\.pkl: .*" + message):
        load_split(dump(tmp_path / "bad.pkl", obj))


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_split(tmp_path / "nope.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"\x80\x04not a pickle")
    with pytest.raises(DataError, match=r"junk\.pkl: not a valid pickle"):
        load_split(tmp_path / "junk.pkl")


def test_empty_training_split_is_an_error(tmp_path):
    write_data_dir({n: Split([], []) for n in ("train", "validate", "test")}, tmp_path)
    with pytest.raises(DataError, match="no training events"):
        load_data_dir(tmp_path)


def test_history_for_test_includes_validation_period():
    splits = {"train": Split([1, 2], [[1, 2], [3]]), "validate": Split([1], [[4]]), "test": Split([1], [[5]])}
    assert history_for(splits, "validate") == {1: [1, 2], 2: [3]}
    assert history_for(splits, "test") == {1: [1, 2, 4], 2: [3]}
    assert history_for(splits, "test", "train") == {1: [1, 2], 2: [3]}
    # validation always follows train alone: asking otherwise was silently ignored
    with pytest.raises(ConfigError, match="--split validate always follows train alone"):
        history_for(splits, "validate", "train")
    with pytest.raises(ConfigError, match="--test-history must be 'train\\+validate' or 'train', got 'validate'"):
        history_for(splits, "test", "validate")
