"""moto's server (`python -m moto.server`, same arguments), answering one request at a time.

moto's in-memory backends are not thread-safe, and its server runs a thread per request. In
Secrets Manager's, a lookup by name or ARN iterates over every secret of the region
(SecretsStore.__contains__), so a CreateSecret in another thread makes it raise "dictionary
changed size during iteration", which the server answers with HTTP 500 (the kind of race of
getmoto/moto#372 and #10185). The SDK retries a 500, so tests still pass, but the call is made
twice, and the fault matrix, which places faults by counting calls, sees a clean run that differs
from the others. The real service has no such failure. One request at a time removes it; every
moto call takes milliseconds, and the tests' long waits happen in their own proxies, not in moto.
"""

import sys

import moto.server

_run_simple = moto.server.run_simple


def _run_serially(*args, **kwargs):
    kwargs["threaded"] = False
    return _run_simple(*args, **kwargs)


moto.server.run_simple = _run_serially

if __name__ == "__main__":
    sys.exit(moto.server.main(sys.argv[1:]))
