"""Timer triggers; schedules come from app settings (%NAME%) so operators change them without a deploy.

Each timer carries its own short retry policy (the Event Hub functions retry forever; a failed timer run is
simply repeated by its next schedule).
"""

import logging

import azure.functions as func

bp = func.Blueprint()
logger = logging.getLogger(__name__)
# One policy for every timer: two quick retries, then the next schedule runs the job again.
_retry_twice = bp.retry(strategy="fixed_delay", max_retry_count="2", delay_interval="00:00:30")


@bp.function_name("pending_sweep")
@bp.timer_trigger(arg_name="timer", schedule="%PENDING_SWEEP_SCHEDULE%", run_on_startup=False)
@_retry_twice
def pending_sweep(timer: func.TimerRequest) -> None:
    from shared.app.wiring import app_context  # imported on first run: keeps the cold start small
    from shared.jobs.pending_sweep import sweep_pending

    logger.info("pending_sweep: %s", sweep_pending(app_context()))


@bp.function_name("quota_check")
@bp.timer_trigger(arg_name="timer", schedule="%QUOTA_CHECK_SCHEDULE%", run_on_startup=False)
@_retry_twice
def quota_check(timer: func.TimerRequest) -> None:
    from shared.app.wiring import app_context
    from shared.jobs.quota_check import run_quota_check

    run_quota_check(app_context())


@bp.function_name("anomaly_scan")
@bp.timer_trigger(arg_name="timer", schedule="%ANOMALY_SCAN_SCHEDULE%", run_on_startup=False)
@_retry_twice
def anomaly_scan(timer: func.TimerRequest) -> None:
    from shared.app.wiring import app_context
    from shared.jobs.anomaly_scan import run_anomaly_scan

    run_anomaly_scan(app_context())


@bp.function_name("reconcile")
@bp.timer_trigger(arg_name="timer", schedule="%RECONCILE_SCHEDULE%", run_on_startup=False)
@_retry_twice
def reconcile(timer: func.TimerRequest) -> None:
    from shared.app.wiring import app_context
    from shared.jobs.reconcile import run_reconcile

    run_reconcile(app_context())


@bp.function_name("retention_purge")
@bp.timer_trigger(arg_name="timer", schedule="%RETENTION_PURGE_SCHEDULE%", run_on_startup=False)
@_retry_twice
def retention_purge(timer: func.TimerRequest) -> None:
    from shared.app.wiring import app_context
    from shared.jobs.retention_purge import run_retention_purge

    run_retention_purge(app_context())


@bp.function_name("chargeback_report")
@bp.timer_trigger(arg_name="timer", schedule="%CHARGEBACK_REPORT_SCHEDULE%", run_on_startup=False)
@_retry_twice
def chargeback_report(timer: func.TimerRequest) -> None:
    from shared.app.wiring import app_context
    from shared.jobs.chargeback_report import run_chargeback_report

    run_chargeback_report(app_context())


@bp.function_name("ptu_refresh")
@bp.timer_trigger(arg_name="timer", schedule="%PTU_REFRESH_SCHEDULE%", run_on_startup=False)
@_retry_twice
def ptu_refresh(timer: func.TimerRequest) -> None:
    from shared.app.wiring import app_context
    from shared.jobs.ptu_refresh import run_ptu_refresh

    run_ptu_refresh(app_context())
