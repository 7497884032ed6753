"""The page's files (app.css, the scripts, Bootstrap's) are the same for everyone: serving one
reads nothing from the database (a page asks for a dozen, each a read of the user before)."""
from sqlalchemy import event


def test_static_files_are_served_without_reading_the_user(app, as_user, engine):
    client = as_user("tm")
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)
    event.listen(engine, "before_cursor_execute", count)
    try:
        for path in ("/static/app.css", "/static/app.js", "/bootstrap/static/css/bootstrap.min.css",
                     "/favicon.ico"):
            response = client.get(path)
            assert response.status_code == 200, path
            response.close()
        assert statements == []
        assert client.get("/").status_code == 200   # the pages still know their user
        assert statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
