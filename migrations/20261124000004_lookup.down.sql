DROP TABLE access_log;
DROP INDEX user_versions_fold_name_words;
DROP INDEX user_versions_fold_upn;
DROP INDEX user_versions_fold_name;
DROP FUNCTION phoneless_fold(text);
-- unaccent stays: other tools in the database may use it.
