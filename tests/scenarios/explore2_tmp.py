import pprint, sys
import trio
from tests.erlnode import epmd_daemon
from tests.freeswitch.fsmin import freeswitch_instance
from tests.scenarios import runner as r
from tests.scenarios.test_scenarios import SCENARIOS

async def main(name, what):
    sc = [s for s in SCENARIOS if s.name == name][0]
    with freeswitch_instance() as fs:
        async with epmd_daemon() as epmd:
            for label, sess in (("SIM", r.sim_session(epmd)), ("FS", r.freeswitch_session(fs, epmd))):
                async with sess as e:
                    try:
                        with trio.fail_after(30):
                            o = await r.run_scenario(sc, e)
                    except Exception as exc:
                        print(label, "FAILED", repr(exc)[:300])
                        o = r.Observation()
                        o.fetches = [{k: str(v) for k, v in f.items()} for f in await r._Run(e).fetches()]
                        o.frames = await r._Run(e).frames()
                print("=====", label)
                if "fetch" in what: pprint.pprint(o.fetches, width=150)
                if "legs" in what: pprint.pprint(r.legs(o.frames), width=150)
                if "frames" in what: pprint.pprint(o.frames, width=150)
trio.run(main, sys.argv[1], sys.argv[2])
