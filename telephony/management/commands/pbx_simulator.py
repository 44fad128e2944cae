"""Run the bundled PBX simulator: an Asterisk manager (AMI) and a FreeSWITCH event socket (ESL) on loopback."""

from __future__ import annotations

import asyncio

from django.core.management.base import BaseCommand, CommandError

from telephony.simulator.runner import Simulator


def address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise CommandError(f"{value!r} is not HOST:PORT")
    return host, int(port)


class Command(BaseCommand):
    help = "Run the PBX simulator (AMI and ESL) for the demo and the tests."

    def add_arguments(self, parser):
        parser.add_argument("--ami", default="127.0.0.1:15038", help="AMI address (default 127.0.0.1:15038)")
        parser.add_argument("--esl", default="127.0.0.1:18021", help="ESL address (default 127.0.0.1:18021)")
        parser.add_argument("--rate", type=float, default=0.3, help="simulated calls per second (0 = none)")
        parser.add_argument("--seed", type=int, default=None, help="random seed for repeatable activity")
        parser.add_argument("--ami-secret", default="mayday")
        parser.add_argument("--esl-password", default="ClueCon")

    def handle(self, *args, **options) -> None:
        (ami_host, ami_port), (esl_host, esl_port) = address(options["ami"]), address(options["esl"])
        if ami_host != esl_host:
            raise CommandError("--ami and --esl must use the same host")
        sim = Simulator(
            host=ami_host,
            ami_port=ami_port,
            esl_port=esl_port,
            rate=options["rate"],
            seed=options["seed"],
            ami={"secret": options["ami_secret"]},
            esl={"password": options["esl_password"]},
        )

        async def main() -> None:
            await sim.start()
            self.stdout.write(f"PBX simulator: AMI on {ami_host}:{sim.ami_port}, ESL on {esl_host}:{sim.esl_port}")
            self.stdout.flush()
            await asyncio.Event().wait()

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            pass
