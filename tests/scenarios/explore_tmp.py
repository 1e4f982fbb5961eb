import pprint, sys
import trio
from tests.erlnode import epmd_daemon
from tests.freeswitch.fsmin import freeswitch_instance
from tests.scenarios import runner as r
from tests.scenarios.test_scenarios import SCENARIOS

async def main(names):
    with freeswitch_instance() as fs:
        async with epmd_daemon() as epmd:
            for sc in SCENARIOS:
                if names and sc.name not in names: continue
                sim, real = await r.observe_both(sc, fs, epmd)
                print("=====", sc.name)
                pprint.pprint(r.differences(sim.replies, real.replies), width=150)
                pprint.pprint(r.differences(r.legs(sim.frames), r.legs(real.frames)), width=150)
                pprint.pprint(r.differences(r.fetch_fields(sim.fetches), r.fetch_fields(real.fetches)), width=150)
                if "-v" in sys.argv:
                    pprint.pprint(r.differences(r.header_values(sim.frames), r.header_values(real.frames)), width=150)
trio.run(main, [a for a in sys.argv[1:] if not a.startswith("-")])
