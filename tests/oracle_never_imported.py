"""An oracle that a run folder names but no command line does: the tests check this module is never imported."""


def score(prompt: str, completion: str) -> float:
    return 0.0
