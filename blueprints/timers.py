"""Timer triggers; schedules come from app settings (%NAME%) so operators change them without a deploy."""

import logging

import azure.functions as func

from shared.wiring import app_context, sweep_pending

bp = func.Blueprint()
logger = logging.getLogger(__name__)


@bp.function_name("pending_sweep")
@bp.timer_trigger(arg_name="timer", schedule="%PENDING_SWEEP_SCHEDULE%", run_on_startup=False)
def pending_sweep(timer: func.TimerRequest) -> None:
    logger.info("pending_sweep: %s", sweep_pending(app_context()))
