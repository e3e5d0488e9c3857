"""The nbgrader course: reference notebooks are the source, student notebooks the release."""

c = get_config()  # noqa: F821 (nbgrader injects get_config)

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
# Each part's check cell checks its part in a new process (training the MLP included); nbgrader's default is 30 s.
c.Execute.timeout = 600
# The course's id and its exchange (nbgrader's defaults: none, and /srv/nbgrader/exchange). `grade-all --gradebook`,
# run in this folder, reads each submission's time from the change times in <Exchange.root>/<course_id>/inbound/,
# which no student can set back, instead of the submission's own timestamp.txt, which its student can rewrite.
# c.CourseDirectory.course_id = "nn101"
# c.Exchange.root = "/srv/nbgrader/exchange"
