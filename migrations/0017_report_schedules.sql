-- Scheduled reports may also run on a cron expression (five fields, in the
-- library's time zone, at most hourly): "0 7 * * 1-5" for weekday mornings
-- (the application validates the expression; the check keeps its shape),
-- and may be built as PDF.

-- +goose Up
ALTER TABLE report_schedules DROP CONSTRAINT report_schedules_frequency_check;
ALTER TABLE report_schedules ADD CONSTRAINT report_schedules_frequency_check
    CHECK (frequency IN ('daily', 'weekly', 'monthly') OR frequency ~ '^\S+ \S+ \S+ \S+ \S+$');
ALTER TABLE report_schedules DROP CONSTRAINT report_schedules_format_check;
ALTER TABLE report_schedules ADD CONSTRAINT report_schedules_format_check
    CHECK (format IN ('csv', 'json', 'svg', 'pdf'));
