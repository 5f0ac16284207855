"""``doorstep demo``: the whole system on one machine, generated fresh on every run.

``provision`` makes the deployment (CA, certificates, keys, one simulated door) and
the hub's database (a home, the door, three one-time invitations); ``children``
starts and stops the processes; ``session`` ties them together and talks to the person.

    >>> from doorstep.demo.session import DemoOptions, run_demo
    >>> run_demo(DemoOptions())   # runs until Ctrl-C          # doctest: +SKIP
"""
