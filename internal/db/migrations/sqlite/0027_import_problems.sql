-- The rejected rows of an import of affected individuals (issue #14),
-- sqlite dialect. Keep in step with ../postgres/0027_import_problems.sql.
-- The page an upload redirects to (Post/Redirect/Get) reads them from
-- here: the first breach.StoredProblems, as JSON of line, field and
-- Ward's reason, never a value from the file.
ALTER TABLE breach_individual_imports ADD COLUMN problems TEXT NOT NULL DEFAULT '[]';
