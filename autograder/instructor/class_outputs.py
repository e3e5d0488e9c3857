"""What grade-all writes for people once a class is graded: grades.csv, the summary line, the class report, feedback.

Every text in them that a student could have chosen (an id, a message, a timestamp.txt) goes
through ``reports.untrusted``: a CSV cell a spreadsheet would run starts with ``'``, and a line
for a terminal holds no control character.
"""

import csv
import io
import statistics
from datetime import datetime
from pathlib import Path

from autograder.boundary.notebook import read_submitted_file
from autograder.contract import GRADED_NAMES, PARTS, REPO_ROOT, parts_of
from autograder.reports import class_report
from autograder.reports.class_record import ClassRecord
from autograder.reports.report import Graded, format_points, part_points, write_atomically
from autograder.reports.similarity import Similarity, compare_class
from autograder.reports.student_report import render
from autograder.reports.untrusted import csv_cell, shown

GRADES_CSV = "grades.csv"
FEEDBACK = "feedback.html"
# What nbgrader's release_feedback needs beside each feedback page, copied from the submission
# (only regular files, never a link).
NBGRADER_SUBMISSION_FILES = ("timestamp.txt", "submission_secret.txt")
# grades.csv's columns after the parts: what became of the student, and when they submitted (the recorded time).
STATUS, SUBMITTED = "status", "submitted"


def grades_csv(record: ClassRecord) -> str:
    """One row per student of the record, by id: ``student_id``, ``score``, ``max_score``, one column per part,
    ``status`` (graded, could not be graded, no submission) and ``submitted`` (the recorded time, or empty).

    A student without a submission, and a submission that could not be graded, get zero: the course counts a
    missing submission as nbgrader's export does. Every figure is written as the score table writes it (``0``,
    ``1.5``, ``63``), and every text through ``untrusted.csv_cell``.
    """
    max_score = next((g.results["max_score"] for g in record.graded), 0.0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student_id", "score", "max_score", *PARTS, STATUS, SUBMITTED])
    nothing = dict.fromkeys(PARTS, 0.0)
    rows = [(g.student_id, g.results["score"] if g.results else 0.0, g.results["max_score"] if g.results else max_score,
             part_points(g.results) if g.results else nothing) for g in record.grades]
    rows += [(student_id, 0.0, max_score, nothing) for student_id in record.absent]
    for student_id, score, maximum, parts in sorted(rows, key=lambda row: row[0]):
        time = record.times.get(student_id)
        writer.writerow([csv_cell(student_id), *(format_points(x) for x in (score, maximum, *(parts[p] for p in PARTS))),
                         record.status(student_id), time.said if time is not None else ""])
    return buffer.getvalue()


def class_summary(record: ClassRecord, similarity: Similarity | None) -> str:
    """One line for the terminal: who was graded, the median, who submitted nothing or could not be graded, the
    folders refused, the times that disagree, the flagged pairs."""
    scored = [g.results["score"] for g in record.graded]
    words = [f"{len(record.grades) + len(record.absent)} on the roster ({record.roster})"] if record.roster else []
    words.append(f"{len(scored)} of {len(record.grades)} submissions graded")
    if scored:
        maximum = record.graded[0].results["max_score"]
        words.append(f"median {format_points(statistics.median(scored))} / {format_points(maximum)}")
    if len(scored) < len(record.grades):
        words.append(f"{len(record.grades) - len(scored)} could not be graded")
    if record.absent:
        words.append(f"{len(record.absent)} without a submission (0 points)")
    if record.refused:
        words.append(f"{len(record.refused)} {'folder' if len(record.refused) == 1 else 'folders'} of no student "
                     "of the class not graded")
    if record.disagreeing_times:
        words.append(f"{len(record.disagreeing_times)} timestamp.txt disagreeing with the recorded time")
    if similarity is not None:
        flagged = len(similarity.flagged)
        words.append(f"{flagged} {'pair' if flagged == 1 else 'pairs'} of submissions flagged as similar")
    return "Summary: " + "; ".join(words) + "."


def write_class_report(out: Path, record: ClassRecord, submitted: Path, assignment: str) -> Similarity:
    """``out/class_report.html``: the class's scores, checks, failures and similar submissions.

    Similarity is computed afresh each time (a second for a class of 8, pairs grow as the class
    squared), with the released notebooks in ``assignments/`` as the starter code to exclude.
    """
    submissions = {g.student_id: submitted / g.student_id / assignment for g in record.grades}
    similarity = compare_class(submissions, REPO_ROOT / "assignments" / assignment, list(GRADED_NAMES))
    class_report.write(out / class_report.CLASS_REPORT, record, similarity, assignment, datetime.now().astimezone())
    return similarity


def feedback_page(graded: Graded, parts: list[str]) -> str:
    """The student's page for ``parts``; without the figures the student's code reported, where they break it.

    Those figures (the training curves) are whatever the student's ``train_mlp`` returned: one
    student's odd values must cost their page its plot, never the class its grades.
    """
    try:
        return render(graded.student_id, graded.results, parts, graded.problem)
    except Exception:  # noqa: BLE001 - any failure of the student's own figures; the grades still go out
        results = {**graded.results, "extra_data": {}} if graded.results else graded.results
        return render(graded.student_id, results, parts, graded.problem)


def place_feedback(graded: Graded, submission: Path, destination: Path) -> None:
    """One page per submitted notebook, with that notebook's parts, where ``nbgrader release_feedback`` looks."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in NBGRADER_SUBMISSION_FILES:
        content = read_submitted_file(submission / name)
        if content is not None:
            (destination / name).write_bytes(content)
    for notebook in GRADED_NAMES:
        if (submission / notebook).is_file():
            write_atomically(destination / f"{Path(notebook).stem}.html", feedback_page(graded, parts_of(notebook)))


def terminal_lines(record: ClassRecord) -> list[str]:
    """What grade-all says on stderr of each student who needs the instructor, every id shown inert."""
    lines = [f"{shown(g.student_id)}: {shown(g.problem)}" for g in record.grades if g.results is None]
    lines += [f"Not graded: the folder '{shown(name)}' of submitted/: {why}." for name, why in sorted(record.refused.items())]
    unrecorded = sorted(s for s, t in record.times.items() if t.recorded is None)
    if unrecorded and not record.times_source:
        lines.append(f"Submission times: none recorded, none written: {record.times[unrecorded[0]].unrecorded}.")
    elif unrecorded:
        lines.append(f"No recorded submission time, none written: {', '.join(shown(s) for s in unrecorded)}.")
    return lines
