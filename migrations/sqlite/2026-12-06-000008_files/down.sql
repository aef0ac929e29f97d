DROP TABLE file_usage;
DROP TABLE files;
