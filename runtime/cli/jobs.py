"""The batch job verbs: `batch-endpoint invoke` and `list-jobs`, `batch-deployment list-jobs`, and `job` (show,
list, cancel, stream, download), with az ml's flags."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.cli import progress
from runtime.cli.args import not_blank, path_name, positive
from runtime.cli.calls import api, quoted
from runtime.client import Client
from runtime.errors import NotFound, SpecError

Handler = Callable[[argparse.Namespace], Any]
#: Statuses a job never leaves (Azure's names).
TERMINAL = ("Completed", "Failed", "Canceled")
#: How often `job stream` looks at the job.
POLL_S = 0.5
#: The resource tokens are issued for (runtime.control.controller.access.AUDIENCE).
AUDIENCE = "https://ml.azure.com"


def _local(path: str) -> str:
    """A path the server reads, made absolute from where the command runs; URLs and azureml: go as they are."""
    if "://" in path or path.strip().startswith("azureml:"):
        return path
    return str(Path(path).expanduser().resolve())


def _invoke(args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {"input": _local(args.input), "set": args.set or []}
    for key in ("input_type", "deployment_name", "mini_batch_size", "instance_count", "priority", "job_name"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    if args.output_path is not None:
        body["output_path"] = _local(args.output_path)
    return api(args).call("POST", f"/api/batch-endpoints/{quoted(args.name)}/jobs", body)


def _endpoint_jobs(args: argparse.Namespace) -> Any:
    return api(args).call("GET", f"/api/batch-endpoints/{quoted(args.name)}/jobs")


def _deployment_jobs(args: argparse.Namespace) -> Any:
    path = f"/api/batch-endpoints/{quoted(args.endpoint_name)}/deployments/{quoted(args.name)}/jobs"
    return api(args).call("GET", path)


def _show(args: argparse.Namespace) -> Any:
    return api(args).call("GET", f"/api/jobs/{quoted(args.name)}")


def _list(args: argparse.Namespace) -> Any:
    return api(args).call("GET", "/api/jobs")


def _cancel(args: argparse.Namespace) -> Any:
    return api(args).call("POST", f"/api/jobs/{quoted(args.name)}/cancel")


# --- stream ------------------------------------------------------------------------------------------------


def progress_text(job: dict[str, Any]) -> str:
    """One plain progress line: status, mini-batches settled of the total, files, retries, elapsed and ETA."""
    mb, files = job["mini_batches"], job["files"]
    settled = mb["done"] + mb["failed"]
    eta = job.get("eta_s")
    left = f", about {eta:.0f} s left" if eta is not None and job["status"] == "Running" else ""
    return (
        f"{job['status']}: {settled} of {mb['total']} mini-batches, {files['done']} of {files['total']} files "
        f"succeeded, {files['failed']} failed, {job['retries']} retries ({job['elapsed_s']:.1f} s{left})"
    )


def summary(job: dict[str, Any]) -> str:
    """The line `job stream` ends with."""
    counts = progress_text(job).split(": ", 1)[1].split(" (")[0]
    line = f"Job {job['name']} {job['status']} in {job['elapsed_s']:.1f} s: {counts}"
    if job.get("error"):
        line += f"\nError: {job['error']}"
    return line


def _stream(args: argparse.Namespace) -> int:
    client = api(args)
    path = f"/api/jobs/{quoted(args.name)}"
    job = client.call("GET", path)
    if progress.interactive():
        job = _stream_bar(client, path, job)
    else:
        last = ""
        while True:
            line = progress_text(job)
            if line.split(" (")[0] != last:  # a line when something moved, not one per poll
                print(line, flush=True)
                last = line.split(" (")[0]
            if job["status"] in TERMINAL:
                break
            time.sleep(POLL_S)
            job = client.call("GET", path)
    print(summary(job), flush=True)
    return 0 if job["status"] == "Completed" else 1


def _stream_bar(client: Client, path: str, job: dict[str, Any]) -> dict[str, Any]:
    """A rich progress bar of the job's mini-batches on stderr until the job is over; the last answer."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr, stderr=True, highlight=False)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, TextColumn("{task.fields[detail]}"), console=console, transient=True) as bar:
        task = bar.add_task(job["name"], total=None, detail="")
        while True:
            mb, files = job["mini_batches"], job["files"]
            detail = f"{job['status']}, {files['done']} files done, {files['failed']} failed"
            total = mb["total"] or None
            bar.update(task, total=total, completed=mb["done"] + mb["failed"], detail=detail)
            if job["status"] in TERMINAL:
                return job
            time.sleep(POLL_S)
            job = client.call("GET", path)


# --- download ----------------------------------------------------------------------------------------------


def _download(args: argparse.Namespace) -> Any:
    job = api(args).call("GET", f"/api/jobs/{quoted(args.name)}")
    into = Path(args.download_path).expanduser()
    names = [args.output_name] if args.output_name else []
    if args.all:
        names = list(job["outputs"])
    for name in names:
        if name not in job["outputs"]:
            have = ", ".join(job["outputs"])
            raise NotFound(f"job {job['name']!r} has no output {name!r}; its outputs: {have}")
        if job["status"] != "Completed":
            raise SpecError(f"job {job['name']!r} is {job['status']}; its outputs can be downloaded once Completed")
        _copy_output(job["outputs"][name], into / "named-outputs" / name)
    if not args.output_name:  # as az ml: the job's logs, without --output-name or with --all
        logs = Path(job["log_folder"])
        if logs.is_dir():
            shutil.copytree(logs, into / "artifacts" / "logs", dirs_exist_ok=True)
    return None


def _copy_output(output: dict[str, Any], dest: Path) -> None:
    folder = Path(output["path"])
    dest.mkdir(parents=True, exist_ok=True)
    file = folder / output["output_file_name"]
    if file.is_file():
        shutil.copy2(file, dest / file.name)
        return
    # summary_only: the files the script wrote, without the job's logs
    shutil.copytree(folder, dest, dirs_exist_ok=True, ignore=lambda d, _: ["logs"] if Path(d) == folder else [])


def _access_token(args: argparse.Namespace) -> Any:
    if args.resource is not None and args.resource.rstrip("/") != AUDIENCE:
        raise SpecError(f"--resource {args.resource!r}: tokens are issued only for {AUDIENCE} (batch endpoint jobs)")
    return api(args).call("POST", "/api/access-token")


# --- parser ------------------------------------------------------------------------------------------------


def add_verbs(endpoint: Any, deployment: Any, groups: Any, common: argparse.ArgumentParser) -> None:
    """Add invoke and list-jobs to the batch groups, and the `job` group."""

    def verb(sub: Any, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, parents=[common], help=help)
        p.set_defaults(handler=handler)
        return p

    p = verb(endpoint, "invoke", _invoke, "start a batch job over a folder, a file or a data asset; returns at once")
    p.add_argument("-n", "--name", type=path_name, required=True, help="the batch endpoint")
    p.add_argument("--input", type=not_blank, required=True, help="folder, file, azureml:<data>@latest or :<version>")
    p.add_argument("--input-type", help="uri_folder or uri_file (default: what the input is)")
    p.add_argument("-d", "--deployment-name", type=path_name, help="default: the endpoint's default deployment")
    p.add_argument("--output-path", type=not_blank, help="local output folder (default: one per job)")
    p.add_argument("--mini-batch-size", type=positive, help="files per run() call for this job")
    p.add_argument("--instance-count", type=positive, help="instances this job runs on (default: the deployment's)")
    p.add_argument(
        "--priority",
        choices=["normal", "low"],
        help="low: run only when no normal job is unfinished, and give the cores back to online deployments under "
        "load (default: low on a low_priority cluster, else normal)",
    )
    p.add_argument("--set", action="extend", nargs="+", metavar="PATH=VALUE", help="override a setting for this job")
    p.add_argument("--job-name", help="default: batchjob-<uuid>")
    p = verb(endpoint, "list-jobs", _endpoint_jobs, "list a batch endpoint's jobs")
    p.add_argument("-n", "--name", type=path_name, required=True)
    p = verb(deployment, "list-jobs", _deployment_jobs, "list a batch deployment's jobs")
    p.add_argument("-n", "--name", type=path_name, required=True)
    p.add_argument("-e", "--endpoint-name", type=path_name, required=True)

    job = groups.add_parser("job", help="batch jobs").add_subparsers(dest="verb", metavar="VERB", required=True)
    p = verb(job, "show", _show, "show a job: status, counts, elapsed time and an estimate of the time left")
    p.add_argument("-n", "--name", type=path_name, required=True)
    verb(job, "list", _list, "list every job, oldest first")
    p = verb(job, "cancel", _cancel, "cancel a queued or running job")
    p.add_argument("-n", "--name", type=path_name, required=True)
    p = verb(job, "stream", _stream, "follow a job until it ends; exit 0 when Completed, 1 otherwise")
    p.add_argument("-n", "--name", type=path_name, required=True)
    p = verb(job, "download", _download, "copy a job's output to DIR/named-outputs/<name>/ (logs without a name)")
    p.add_argument("-n", "--name", type=path_name, required=True)
    p.add_argument("--output-name", type=not_blank, help="score")
    p.add_argument("--download-path", default=".", help="default: the current folder")
    p.add_argument("--all", action="store_true", help="every output and the logs")

    account = groups.add_parser("account", help="access tokens").add_subparsers(
        dest="verb", metavar="VERB", required=True
    )
    p = verb(account, "get-access-token", _access_token, "a Bearer token for POST /batch-endpoints/<e>/jobs")
    p.add_argument("--resource", help="https://ml.azure.com (the only one)")
