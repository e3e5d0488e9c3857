"""The nbgrader course: reference notebooks are the source, student notebooks the release."""

c = get_config()  # noqa: F821 (nbgrader injects get_config)

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
# Each part's grade cell grades its part in a new process (training the MLP included); nbgrader's default is 30 s.
c.Execute.timeout = 600
