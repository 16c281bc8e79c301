"""The dashboard's screens: the overview, one deployment, and the dialogs that ask and confirm."""

from tui.screens.base import History, StatusScreen
from tui.screens.deployment import DeploymentScreen
from tui.screens.dialogs import AskScreen, ConfirmScreen
from tui.screens.main import MainScreen

__all__ = ["AskScreen", "ConfirmScreen", "DeploymentScreen", "History", "MainScreen", "StatusScreen"]
