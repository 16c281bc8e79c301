"""The dashboard's actions, each asked for (where it takes a value) and confirmed before the screen requests it.

A confirmed action goes up to the app as an ActionRequested message; the app makes the call off the UI loop and
reports the outcome. The confirmation says exactly what the server will be asked to do.
"""

from __future__ import annotations

from textual.screen import Screen

from runtime.status import DeploymentStatus, EndpointStatus, JobStatus, WorkerStatus
from tui.link import Link
from tui.messages import ActionRequested
from tui.screens.dialogs import AskScreen, ConfirmScreen
from tui.traffic import describe, parse_split

#: The most instances a deployment may have (the server's limit on instance_count).
MAX_INSTANCES = 50


def _confirmed(screen: Screen[None], text: str, request: ActionRequested) -> None:
    def answer(yes: bool | None) -> None:
        if yes:
            screen.post_message(request)

    screen.app.push_screen(ConfirmScreen(text), answer)


def change_traffic(screen: Screen[None], endpoint: EndpointStatus, deployments: list[str]) -> None:
    """Ask for the new split of an online endpoint, then confirm it."""
    if endpoint.kind != "online":
        screen.notify(f"{endpoint.name} is a batch endpoint: its jobs go to its default deployment", severity="warning")
        return
    if not deployments:
        screen.notify(f"endpoint {endpoint.name} has no deployments to send traffic to", severity="warning")
        return
    current = {name: endpoint.traffic.get(name, 0) for name in deployments}

    def check(text: str) -> str | None:
        try:
            parse_split(text, deployments)
        except ValueError as exc:
            return str(exc)
        return None

    def typed(text: str | None) -> None:
        if text is None:
            return
        split = parse_split(text, deployments)
        what = f"set the traffic of {endpoint.name} to {describe(split)}"

        def run(link: Link) -> str | None:
            link.set_traffic(endpoint.name, split)
            return None

        text = (
            f"Set the live traffic of endpoint {endpoint.name} to\n  {describe(split)}\n(now {describe(current)}).\n"
            "Requests are split this way from the moment the server accepts it; mirror traffic is unchanged."
        )
        _confirmed(screen, text, ActionRequested(what, run))

    prompt = f"New traffic split of {endpoint.name} (name=percent, adding up to 100; deployments left out get 0):"
    screen.app.push_screen(AskScreen(prompt, describe(current), check), typed)


def scale(screen: Screen[None], d: DeploymentStatus) -> None:
    """Ask for a deployment's new instance count, then confirm it."""
    if d.kind != "online":
        screen.notify(f"{d.name} is a batch deployment: its instance_count applies to jobs", severity="warning")
        return

    def check(text: str) -> str | None:
        if not text.strip().isdigit() or not 1 <= int(text) <= MAX_INSTANCES:
            return f"an instance count is a whole number from 1 to {MAX_INSTANCES}, not {text!r}"
        return None

    def typed(text: str | None) -> None:
        if text is None:
            return
        count = int(text)
        if count == d.instance_count:
            screen.notify(f"{d.name} already has {count} instances; nothing to do")
            return
        what = f"scale {d.endpoint}/{d.name} to {count} instances"

        def run(link: Link) -> str | None:
            link.scale(d.endpoint, d.name, count)
            return None

        change = "start" if count > d.instance_count else "stop"
        text = (
            f"Scale deployment {d.name} of {d.endpoint} from {d.instance_count} to {count} instances\n"
            f"(instance_count={count}, as `online-deployment update --set`): the server will {change} "
            f"{abs(count - d.instance_count)} instance(s)."
        )
        _confirmed(screen, text, ActionRequested(what, run))

    prompt = f"Instances of {d.endpoint}/{d.name} (now {d.instance_count}; 1 to {MAX_INSTANCES}):"
    screen.app.push_screen(AskScreen(prompt, str(d.instance_count), check), typed)


def restart(screen: Screen[None], d: DeploymentStatus, w: WorkerStatus) -> None:
    """Confirm, then restart one worker."""
    if d.kind != "online":
        screen.notify("batch workers are started per job; cancel the job instead", severity="warning")
        return
    if w.pid is None:
        screen.notify(
            f"worker {w.instance}.{w.process} has no process to restart (it is {w.state})", severity="warning"
        )
        return
    what = f"restart worker {w.instance}.{w.process} of {d.endpoint}/{d.name}"

    def run(link: Link) -> str | None:
        killed = link.restart_worker(d.endpoint, d.name, w.instance, w.process)
        return f"pid {killed} killed; its replacement is starting"

    text = (
        f"Restart worker {w.instance}.{w.process} of {d.endpoint}/{d.name}:\n"
        f"its process (pid {w.pid}) is killed, requests it holds fail, and a new process takes its place\n"
        "(its init() runs again), as after a crash."
    )
    _confirmed(screen, text, ActionRequested(what, run))


def cancel_job(screen: Screen[None], job: JobStatus) -> None:
    """Confirm, then cancel a batch job."""
    if job.state in ("Completed", "Failed", "Canceled"):
        screen.notify(f"job {job.name} has ended ({job.state}); there is nothing to cancel", severity="warning")
        return
    what = f"cancel job {job.name}"

    def run(link: Link) -> str | None:
        link.cancel_job(job.name)
        return None

    left = job.files_total - job.files_done - job.files_failed
    text = (
        f"Cancel batch job {job.name} of {job.endpoint}/{job.deployment}:\n"
        f"{job.files_done} of {job.files_total} files are done; the {left} left are not scored.\n"
        "It moves to CancelRequested, then Canceled once the files in progress end."
    )
    _confirmed(screen, text, ActionRequested(what, run))
