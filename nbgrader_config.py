"""The nbgrader course: reference notebooks are the source, student notebooks the release."""

c = get_config()  # noqa: F821 (nbgrader injects get_config)

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
