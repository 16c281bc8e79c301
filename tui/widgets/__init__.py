"""Reusable dashboard widgets: the traffic bar, the tables of deployments, workers and jobs, the banner."""

from tui.widgets.banner import Banner
from tui.widgets.job_progress import JobTable
from tui.widgets.tables import DeploymentTable, EndpointTable
from tui.widgets.traffic_bar import TrafficBar
from tui.widgets.worker_table import WorkerTable

__all__ = ["Banner", "DeploymentTable", "EndpointTable", "JobTable", "TrafficBar", "WorkerTable"]
