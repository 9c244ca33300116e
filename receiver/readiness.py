"""What the receiver cannot do with its configuration: /healthz's problems and warnings, and the lines
`attro serve` prints at start-up.

A problem makes /healthz 503 (no webhook can be verified: Stripe's deliveries all fail). A warning
leaves it 200: the receiver does its main job, but something an operator set up is not working.
"""

from __future__ import annotations

from starlette.datastructures import State

from core.settings import Settings


def unplaced(text: str, settings: Settings) -> str:
    """`text` with the server's own paths named by their setting: anyone can ask /healthz, Stripe's
    dashboard shows a 503's body, and where the data lives on disk is nobody's business but ops'
    (`attro serve` and the logs say it whole)."""
    text = text.replace(str(settings.program_path), "$ATTRO_PROGRAM")
    return text.replace(str(settings.data_dir), "$ATTRO_DATA_DIR")


def webhook_problem(state: State) -> str | None:
    """Why no webhook can be verified now, or None."""
    if state.signing_secrets.current():
        return None
    return f"cannot verify webhooks: {state.signing_secrets.why_none()}"


def warnings(state: State, *, public: bool = False) -> list[str]:
    """What works less than configured: the clicks API without a token, a program file that did not
    reload. `public` (/healthz, which anyone may ask) names the program file's faulty entries but not
    the values its problems quote (an affiliate's email, a code); the log and the console have them."""
    found = []
    if not state.settings.api_token:
        found.append("no API token configured (set ATTRO_API_TOKEN): POST /api/clicks answers 503")
    program_file = state.program_file
    program_file.current()  # a probe notices a changed file even while no visitor comes
    if program_file.problem is not None:
        first_line = program_file.problem.splitlines()[0]
        if public and program_file.problem_entries:
            where = ", ".join(program_file.problem_entries)
            first_line = f"{program_file.path}: a problem in {where} (the receiver's log says what)"
        found.append(
            "the program file changed but cannot be used; still serving the version loaded at "
            f"{program_file.loaded_at.isoformat(timespec='seconds')}: {first_line}"
        )
    return found


def startup_warnings(state: State) -> list[str]:
    """The lines `attro serve` prints before it listens: the problem and the warnings, one line each."""
    problem = webhook_problem(state)
    found = [f"{problem}: webhooks are answered 503 until this is fixed"] if problem else []
    return found + warnings(state)
