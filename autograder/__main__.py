"""``python -m autograder``: check a notebook, grade one submission, grade a class, build a Gradescope or student bundle."""

import argparse
import subprocess
import sys
from pathlib import Path

from autograder.contract import ASSIGNMENT_ID, GRADED_NAMES, PARTS, REFERENCE_DIR, parts_of
from autograder.launch import STUDENT_VIEW, grader_command, grader_environment, run_grading


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser(
        "check", help="grade a notebook, or a folder of notebooks, and print the checks (for students)",
        description="Grade one notebook (only its parts) or a folder of them. Options after the path "
        "go to pytest, e.g. -x or -k softmax.")
    check.add_argument("path", type=Path)
    check.add_argument("--watch", action="store_true",
                       help="check again each time the notebook is saved, printing only what changed")

    grade = commands.add_parser(
        "grade", help="grade one submission folder into a results.json (what Gradescope runs)", add_help=False,
        description="Grade one submission folder. Options after the folder go to the grader (below).")
    grade.add_argument("submission", type=Path, nargs="?")
    grade.add_argument("-h", "--help", action="store_true", help="show this help and the grader's options")

    grade_all = commands.add_parser(
        "grade-all", help="grade every submission in nbgrader's submitted/ folder",
        description="Grade the <student>/<assignment>/ folder under DIR of every student of the class, in parallel; "
        "a re-run grades only what is new or changed. The class is the roster: the gradebook's students and, or, "
        "--roster's; a folder of no student on it is reported and not graded (with no roster, a folder whose name "
        "is not a plain id). Writes OUT/<student>/results.json and feedback.html, OUT/grades.csv (every student "
        "on the roster) and OUT/class_report.html (the class's scores, checks, common failures, submission times "
        "and suspiciously similar submissions). Options after these go to each grading, e.g. --call-timeout 10.")
    grade_all.add_argument("submitted", type=Path, metavar="DIR", help="nbgrader's submitted/ folder")
    grade_all.add_argument("--out", type=Path, required=True, help="folder for the results")
    grade_all.add_argument("--assignment", default=ASSIGNMENT_ID, help="the assignment's folder name (default: %(default)s)")
    grade_all.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: one per core)")
    grade_all.add_argument("--regrade", action="store_true", help="grade every submission again, changed or not")
    grade_all.add_argument("--reference", type=Path, default=REFERENCE_DIR, help="the reference notebooks (default: %(default)s)")
    grade_all.add_argument("--gradebook", metavar="DB_URL",
                           help="also write the grades into this nbgrader gradebook, e.g. sqlite:///gradebook.db")
    grade_all.add_argument("--feedback", type=Path, metavar="FEEDBACK_DIR",
                           help="also write each notebook's feedback where `nbgrader release_feedback` takes it "
                           "(the course's feedback/ folder)")

    grade_all.add_argument("--roster", type=Path, metavar="STUDENTS_CSV",
                           help="the class list, a CSV with an id column (students.example.csv's format); with "
                           "--gradebook, its students are on the roster too")
    grade_all.add_argument("--admit-unlisted", action="store_true",
                           help="also grade, and write to the gradebook, the folders whose names are plain ids but "
                           "not on the roster")
    grade_all.add_argument("--exchange", type=Path, metavar="COURSE_EXCHANGE",
                           help="the course's folder in nbgrader's exchange (Exchange.root/course_id), whose change "
                           "times are the submission times (default with --gradebook: found from nbgrader's "
                           "configuration of the current folder)")
    grade_all.add_argument("--allow-unconfined", action="store_true",
                           help="grade even where student code cannot be confined (then any student could read "
                           "the reference or others' work, or forge a grade)")

    bundle = commands.add_parser("gradescope", help="build a Gradescope autograder bundle (a .zip)")
    bundle.add_argument("--out", type=Path, default=Path("gradescope_autograder.zip"), help="default: %(default)s")

    student_bundle = commands.add_parser(
        "student-bundle", help="build what a student receives without nbgrader's exchange: notebooks, autograder, README",
        description="Write the released notebooks, the autograder package, its pyproject.toml and a student README, "
        "and nothing of solutions/, to a folder, or to a zip where OUT ends in .zip.")
    student_bundle.add_argument("--out", type=Path, required=True, metavar="DIR_OR_ZIP")

    args, passed_on = parser.parse_known_args(argv)
    if passed_on and args.command not in ("check", "grade", "grade-all"):
        parser.error(f"unrecognized arguments: {' '.join(passed_on)}")
    if args.command == "check":
        return run_check(args.path, passed_on, args.watch)
    if args.command == "grade":
        if args.help or args.submission is None:
            print(grade.format_help() + "\n" + grader_options_help())
            return 0 if args.help else 2
        command = grader_command(notebooks_folder(args.submission), None, *passed_on)
        return subprocess.call(command, env=grader_environment())
    if args.command == "grade-all":
        from autograder.instructor.grade_all import grade_class

        return grade_class(args.submitted, args.out, args.reference, args.assignment, args.jobs, args.regrade,
                           args.gradebook, args.feedback, args.allow_unconfined, passed_on, args.roster,
                           args.exchange, args.admit_unlisted)
    if args.command == "student-bundle":
        from autograder.instructor.student_bundle import build_student_bundle

        try:
            build_student_bundle(args.out)
        except FileExistsError as error:
            print(f"{error}: give a new or empty folder, or a .zip.", file=sys.stderr)
            return 2
        print(f"Wrote {args.out}: give it to students; its README.md says what to do.")
        return 0
    from autograder.instructor.gradescope import build_bundle

    build_bundle(args.out)
    print(f"Wrote {args.out}: upload it as the autograder of a Gradescope programming assignment.")
    return 0


def run_check(path: Path, passed_on: list[str], watching: bool = False) -> int:
    """Grade a notebook (only its parts) or a folder, printing pytest's report and the score table; with
    ``watching``, again each time it is saved (see ``autograder.watch``)."""
    if path.suffix == ".ipynb":
        if path.name not in GRADED_NAMES:
            print(f"{path.name} is not one of this assignment's notebooks ({', '.join(GRADED_NAMES)}); "
                  "keep the file name you were given.", file=sys.stderr)
            return 4
        if not path.is_file():
            print(f"There is no notebook at {path}.", file=sys.stderr)
            return 4
        folder, titles = path.parent, parts_of(path.name)
        options = [*(option for title in titles for option in ("--part", title)), *passed_on]
    elif path.is_dir():
        folder, titles, options = notebooks_folder(path), list(PARTS), passed_on
    else:
        print(f"There is no notebook or folder at {path}.", file=sys.stderr)
        return 4
    if watching:
        from autograder.watch import watch

        return watch(folder, [folder / PARTS[title].notebook for title in titles], titles, options)
    return run_grading(folder, None, *STUDENT_VIEW, *options)


def grader_options_help() -> str:
    """The grader's own options (``autograder/conftest.py``), as ``grade``, ``check`` and ``grade-all`` pass them on."""
    from autograder import conftest

    class Options:  # what pytest's parser offers conftest, collecting instead of parsing
        def __init__(self) -> None:
            self.lines: list[str] = []

        def getgroup(self, name: str) -> "Options":
            return self

        def addoption(self, *names: str, **settings: object) -> None:
            choices = settings.get("choices")
            value = "" if settings.get("action") in ("store_true", "append") and not choices else " VALUE"
            value = f" {{{','.join(map(str, choices))}}}" if choices else value
            said = str(settings.get("help", "")).replace("%(default)s", str(settings.get("default")))
            self.lines.append(f"  {', '.join(names)}{value}\n      {said}")

    options = Options()
    conftest.pytest_addoption(options)
    return "the grader's options:\n" + "\n".join(options.lines)


def notebooks_folder(folder: Path) -> Path:
    """``folder``, or the shallowest folder inside it holding one of the assignment's notebooks.

    An upload often arrives wrapped in a folder of its own (a zip of the assignment folder).
    """
    if any((folder / name).is_file() for name in GRADED_NAMES):
        return folder
    found = sorted((p.parent for name in GRADED_NAMES for p in folder.rglob(name)), key=lambda p: len(p.parts))
    return found[0] if found else folder


if __name__ == "__main__":
    sys.exit(main())
