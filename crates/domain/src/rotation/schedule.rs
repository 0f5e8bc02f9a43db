//! Rotation schedules (spec §4.11): validating `RotationRules` and placing rotation windows.
//! All times are UTC.
//!
//! Every valid schedule is one of three cadences:
//! - every N days (`AutomaticallyAfterDays`, or `rate(N day|days)`): the window is the UTC day
//!   N days after the day of the last rotation (or of creation, when it never rotated);
//! - every N hours (`rate(N hour|hours)`): windows open at midnight UTC of that same day and
//!   every N hours after it;
//! - `cron(...)`: a window opens at each time the expression fires.
//!
//! AWS's rules are checked here, by hand, before croner sees the expression: croner turns `?`
//! into `*` and accepts forms AWS rejects. croner then gets the expression rewritten into plain
//! numbers (every list spelled out, names replaced) and only does the calendar work that is
//! easy to get wrong: `L`, `W`, `#` and the lengths of months.
//!
//! Where AWS's message text is unknown (all of them but the `AutomaticallyAfterDays` range), the
//! messages are Coffer's and name the offending field or value.

use std::fmt;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use rand::RngExt;
use serde::{Deserialize, Serialize};

const HOUR: i64 = 3_600;
const DAY: i64 = 24 * HOUR;
/// AWS: "You can rotate a secret as often as every four hours."
const MIN_INTERVAL_HOURS: i64 = 4;
/// `AutomaticallyAfterDays` is capped at 1000; `rate()` is held to the same ceiling because a
/// rate in days is echoed back as `AutomaticallyAfterDays`.
const MAX_DAYS: i64 = 1_000;

/// `RotationRulesType`, as the request carries it and as the store keeps it (JSON with AWS's
/// member names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationRules {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatically_after_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
}

/// A validated rotation schedule, ready to place windows.
#[derive(Debug, Clone)]
pub struct Schedule {
    cadence: Cadence,
    /// The `Duration` in hours, when one was given.
    duration_hours: Option<i64>,
}

#[derive(Debug, Clone)]
enum Cadence {
    Days(i64),
    Hours(i64),
    Cron(Box<CronCadence>),
}

#[derive(Debug, Clone)]
struct CronCadence {
    cron: Cron,
    /// The hours of the day it fires at, ascending; more than one makes it a schedule "in
    /// hours" for the default window length.
    hours: Vec<i64>,
}

/// A rotation window: the rotation happens at some instant in `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Why `RotationRules` were refused. The caller maps every variant to
/// `InvalidParameterException`.
///
/// Only `AutomaticallyAfterDaysOutOfRange` carries AWS's own text (as emulators record it);
/// AWS's texts for the rest are unknown, so these are Coffer's, each naming what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "You can't specify both AutomaticallyAfterDays and ScheduleExpression in RotationRules. Specify one of them."
    )]
    BothSchedules,
    #[error("RotationRules must contain either AutomaticallyAfterDays or ScheduleExpression.")]
    NoSchedule,
    /// AWS's text, as the emulators record it (spec §3.12).
    #[error("RotationRules.AutomaticallyAfterDays must be within 1-1000.")]
    AutomaticallyAfterDaysOutOfRange,
    #[error("Invalid ScheduleExpression: {0}.")]
    Expression(ExpressionError),
    #[error("Invalid Duration: {0}.")]
    Duration(DurationError),
}

/// What is wrong with a `ScheduleExpression`. The expression itself is not repeated: the caller
/// sent it, and an expression that fails the character check may hold anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    #[error(
        "it must be 1 to 256 characters, each a letter, digit, space, comma or one of ( ) # ? * - /"
    )]
    Shape,
    #[error(
        "it must be rate(Value Unit) or cron(Minutes Hours Day-of-month Month Day-of-week Year)"
    )]
    NotRateOrCron,
    #[error("a rate expression has the form rate(Value Unit), for example rate(10 days)")]
    RateSyntax,
    #[error("the rate value must be a positive whole number")]
    RateValue,
    #[error("the rate unit must be hour, hours, day or days")]
    RateUnit,
    #[error("the rate unit must be singular (hour, day) for the value 1 and plural otherwise")]
    RateUnitNumber,
    #[error("the rate can be at most 1000 days")]
    RateTooLong,
    #[error("the schedule rotates more often than every 4 hours, the shortest interval allowed")]
    TooFrequent,
    #[error(
        "a cron expression has exactly 6 fields (Minutes Hours Day-of-month Month Day-of-week Year), not {0}"
    )]
    CronFieldCount(usize),
    #[error("the Minutes field must be 0, because rotation windows open on the hour")]
    MinutesNotZero,
    #[error("the Year field must be *")]
    YearNotWildcard,
    #[error("exactly one of the Day-of-month and Day-of-week fields must be ?")]
    DayFieldsQuestionMark,
    #[error("? can only stand alone in the Day-of-month or Day-of-week field, not in {0}")]
    MisplacedQuestionMark(CronField),
    #[error("{value} is not a valid value for the {field} field")]
    InvalidValue { field: CronField, value: String },
    #[error("{value} is out of range for the {field} field, which takes {}", field.allowed())]
    OutOfRange { field: CronField, value: String },
    #[error("the range {value} in the {field} field must go from a lower to a higher value")]
    DescendingRange { field: CronField, value: String },
    #[error("the increment in {value} in the {field} field must be a whole number from 1 to {}", field.span())]
    InvalidIncrement { field: CronField, value: String },
    #[error("the Day-of-week field can contain only one # expression")]
    MultipleNth,
    #[error("the number after # in {0} must be 1 to 5")]
    NthOutOfRange(String),
    #[error("{value} must be the only value in the {field} field")]
    NotAlone { field: CronField, value: String },
    #[error("the cron expression never matches a date")]
    NeverFires,
    /// croner refused an expression that passed AWS's rules: a gap between the two.
    #[error("this cron expression is not supported")]
    Unsupported,
}

/// What is wrong with a `Duration`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("it must be 1 or 2 digits followed by h, for example 3h")]
    Malformed,
    #[error("the rotation window must be 1h to 24h long")]
    OutOfRange,
    #[error(
        "a {hours}h window opening at {start_hour:02}:00 UTC would extend into the next UTC day"
    )]
    IntoNextDay { start_hour: i64, hours: i64 },
    #[error(
        "a {hours}h window would extend into the next rotation window, which opens {interval}h later"
    )]
    OverlapsNextWindow { hours: i64, interval: i64 },
}

/// A field of a cron expression, named as AWS's documentation names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronField {
    Minutes,
    Hours,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

impl CronField {
    fn allowed(self) -> &'static str {
        match self {
            CronField::Minutes => "0",
            CronField::Hours => "0-23",
            CronField::DayOfMonth => "1-31",
            CronField::Month => "1-12 or JAN-DEC",
            CronField::DayOfWeek => "1-7 or SUN-SAT",
            CronField::Year => "*",
        }
    }

    fn span(self) -> u32 {
        match self {
            CronField::Hours => 24,
            CronField::DayOfMonth => 31,
            CronField::Month => 12,
            CronField::DayOfWeek => 7,
            CronField::Minutes | CronField::Year => 1,
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CronField::Minutes => "Minutes",
            CronField::Hours => "Hours",
            CronField::DayOfMonth => "Day-of-month",
            CronField::Month => "Month",
            CronField::DayOfWeek => "Day-of-week",
            CronField::Year => "Year",
        })
    }
}

/// Checks `rules` the way `RotateSecret` must, and parses them into a [`Schedule`].
///
/// Decisions where AWS is silent (spec §4.11 `[?]`):
/// - `Duration` is accepted with `AutomaticallyAfterDays` too; the window then opens at midnight.
/// - `rate()` follows EventBridge's grammar, which AWS documents for rate expressions: the value
///   1 takes a singular unit and every other value a plural one, so `rate(1 days)` and
///   `rate(2 day)` are refused. Units are lower case only. The rate is capped at 1000 days.
/// - In `cron()`, `L`, `LW`, `<day>W`, `<day>L` and `<day>#<n>` must stand alone in their field
///   (as in Quartz, where AWS's syntax comes from); ranges must ascend; increments run from 1 to
///   the field's size; month and weekday names are case-insensitive. A bare `L` in Day-of-week
///   is the last day of the week, Saturday.
/// - An expression that never matches a date (the 30th of February) is refused.
/// - The 4-hour minimum holds between any two fire times, across midnight too:
///   `cron(0 0,22 * * ? *)` is refused, `cron(0 0,22 ? * MON *)` is not.
/// - The rotation window must not reach the next UTC day for day-based schedules and cron
///   schedules (either kind); for `rate()` in hours, whose windows need not line up with days,
///   only the next window is a limit.
pub fn validate(rules: &RotationRules) -> Result<Schedule, ScheduleError> {
    let cadence = match (rules.automatically_after_days, &rules.schedule_expression) {
        (Some(_), Some(_)) => return Err(ScheduleError::BothSchedules),
        (None, None) => return Err(ScheduleError::NoSchedule),
        (Some(days), None) if (1..=MAX_DAYS).contains(&days) => Cadence::Days(days),
        (Some(_), None) => return Err(ScheduleError::AutomaticallyAfterDaysOutOfRange),
        (None, Some(expression)) => {
            parse_expression(expression).map_err(ScheduleError::Expression)?
        }
    };
    let duration_hours = match rules.duration.as_deref() {
        Some(text) => {
            let hours = parse_duration(text).map_err(ScheduleError::Duration)?;
            check_window_fits(&cadence, hours).map_err(ScheduleError::Duration)?;
            Some(hours)
        }
        None => None,
    };
    Ok(Schedule {
        cadence,
        duration_hours,
    })
}

impl Schedule {
    /// The first rotation window that opens strictly after `after`.
    ///
    /// A window already open at `after` counts as taken: this is called right after a rotation
    /// (or when rotation is configured), and a rotation inside the current window must not
    /// schedule another one in it. Because the window opens after `after`, every instant in it
    /// lies ahead.
    ///
    /// - Every N days: the UTC day N days after the day of `last_rotated` (or `created`). When
    ///   that day has already begun, the rotation is overdue and takes the next day's window.
    /// - Every N hours: midnight UTC of the day of `last_rotated` (or `created`), plus a whole
    ///   number of N-hour steps.
    /// - cron: the next fire time.
    ///
    /// The window lasts `Duration` when one was given. Otherwise: schedules in days (every N
    /// days, or a cron that fires at one hour of the day) last until the end of the UTC day;
    /// schedules in hours (`rate()` in hours, or a cron with several hours in a day) last one
    /// hour. AWS words the default for cron as "a schedule in hours" versus "in days"; Coffer
    /// reads "in hours" as "fires more than once on the days it fires".
    ///
    /// `None` only beyond the year 5000 (croner's search limit) or jiff's range.
    pub fn next_window(
        &self,
        after: Timestamp,
        last_rotated: Option<Timestamp>,
        created: Timestamp,
    ) -> Option<Window> {
        let after = floor_second(after);
        let anchor_day = day_start(floor_second(last_rotated.unwrap_or(created)));
        let start = match &self.cadence {
            Cadence::Days(days) => {
                let due = anchor_day + days * DAY;
                if due > after {
                    due
                } else {
                    day_start(after) + DAY
                }
            }
            Cadence::Hours(hours) => {
                let step = hours * HOUR;
                if after < anchor_day {
                    anchor_day
                } else {
                    anchor_day + ((after - anchor_day) / step + 1) * step
                }
            }
            Cadence::Cron(cron) => {
                let from = TimeZone::UTC.to_datetime(Timestamp::from_second(after).ok()?);
                let next = cron.cron.find_next_occurrence(&from, false).ok()?;
                TimeZone::UTC.to_timestamp(next).ok()?.as_second()
            }
        };
        let length = match self.duration_hours {
            Some(hours) => hours * HOUR,
            None => match &self.cadence {
                Cadence::Hours(_) => HOUR,
                Cadence::Cron(cron) if cron.hours.len() > 1 => HOUR,
                Cadence::Days(_) | Cadence::Cron(_) => day_start(start) + DAY - start,
            },
        };
        Some(Window {
            start: Timestamp::from_second(start).ok()?,
            end: Timestamp::from_second(start + length).ok()?,
        })
    }

    /// `NextRotationDate` as AWS reports it: the end of the next window ("rotation will occur
    /// on or before this date").
    pub fn next_rotation_date(
        &self,
        after: Timestamp,
        last_rotated: Option<Timestamp>,
        created: Timestamp,
    ) -> Option<Timestamp> {
        self.next_window(after, last_rotated, created)
            .map(|window| window.end)
    }
}

/// A uniformly random instant in `[window.start, window.end)`, in whole milliseconds so it
/// survives the store's epoch-millisecond columns unchanged. AWS rotates "at any time during
/// the rotation window"; spreading rotations keeps many secrets on one schedule from all
/// rotating at the same instant.
pub fn rotation_time_in(window: Window, random: &mut impl rand::Rng) -> Timestamp {
    let start = window.start.as_millisecond();
    let end = window.end.as_millisecond();
    if end <= start {
        return window.start;
    }
    Timestamp::from_millisecond(random.random_range(start..end)).unwrap_or(window.start)
}

fn floor_second(t: Timestamp) -> i64 {
    // `as_second` truncates towards zero, which is a ceiling before 1970.
    if t.subsec_nanosecond() < 0 {
        t.as_second() - 1
    } else {
        t.as_second()
    }
}

fn day_start(second: i64) -> i64 {
    second - second.rem_euclid(DAY)
}

fn parse_duration(text: &str) -> Result<i64, DurationError> {
    let digits = text.strip_suffix('h').ok_or(DurationError::Malformed)?;
    if !(1..=2).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DurationError::Malformed);
    }
    let hours: i64 = digits.parse().map_err(|_| DurationError::Malformed)?;
    if !(1..=24).contains(&hours) {
        return Err(DurationError::OutOfRange);
    }
    Ok(hours)
}

fn check_window_fits(cadence: &Cadence, hours: i64) -> Result<(), DurationError> {
    match cadence {
        // Opens at midnight and lasts at most 24 hours; the next window is a day or more later.
        Cadence::Days(_) => Ok(()),
        Cadence::Hours(interval) if hours > *interval => Err(DurationError::OverlapsNextWindow {
            hours,
            interval: *interval,
        }),
        Cadence::Hours(_) => Ok(()),
        Cadence::Cron(cron) => {
            if let Some(interval) = cron.hours.windows(2).map(|w| w[1] - w[0]).min()
                && hours > interval
            {
                return Err(DurationError::OverlapsNextWindow { hours, interval });
            }
            // Windows that stay inside their day can't reach the next day's first window.
            let last = cron.hours.last().copied().unwrap_or(0);
            if last + hours > 24 {
                return Err(DurationError::IntoNextDay {
                    start_hour: last,
                    hours,
                });
            }
            Ok(())
        }
    }
}

fn parse_expression(text: &str) -> Result<Cadence, ExpressionError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"()#?*-/, ".contains(&b);
    if text.is_empty() || text.len() > 256 || !text.bytes().all(allowed) {
        return Err(ExpressionError::Shape);
    }
    if let Some(inner) = text.strip_prefix("rate(").and_then(|t| t.strip_suffix(')')) {
        parse_rate(inner)
    } else if let Some(inner) = text.strip_prefix("cron(").and_then(|t| t.strip_suffix(')')) {
        parse_cron(inner)
    } else {
        Err(ExpressionError::NotRateOrCron)
    }
}

fn parse_rate(inner: &str) -> Result<Cadence, ExpressionError> {
    let tokens: Vec<&str> = inner.split(' ').filter(|t| !t.is_empty()).collect();
    let [value, unit] = tokens[..] else {
        return Err(ExpressionError::RateSyntax);
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ExpressionError::RateValue);
    }
    let significant = value.trim_start_matches('0');
    if significant.is_empty() {
        return Err(ExpressionError::RateValue);
    }
    // Nine digits already exceed 1000 days in hours; the bound keeps the parse from overflowing.
    if significant.len() > 9 {
        return Err(ExpressionError::RateTooLong);
    }
    let value: i64 = significant
        .parse()
        .map_err(|_| ExpressionError::RateValue)?;
    let (hours_per_unit, singular) = match unit {
        "hour" => (1, true),
        "hours" => (1, false),
        "day" => (24, true),
        "days" => (24, false),
        _ => return Err(ExpressionError::RateUnit),
    };
    if (value == 1) != singular {
        return Err(ExpressionError::RateUnitNumber);
    }
    let hours = value * hours_per_unit;
    if hours < MIN_INTERVAL_HOURS {
        return Err(ExpressionError::TooFrequent);
    }
    if hours > MAX_DAYS * 24 {
        return Err(ExpressionError::RateTooLong);
    }
    Ok(if hours_per_unit == 24 {
        Cadence::Days(value)
    } else {
        Cadence::Hours(value)
    })
}

/// Value range and names of a list field.
struct FieldSpec {
    field: CronField,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const HOURS: FieldSpec = FieldSpec {
    field: CronField::Hours,
    min: 0,
    max: 23,
    names: &[],
};
const DAYS_OF_MONTH: FieldSpec = FieldSpec {
    field: CronField::DayOfMonth,
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: FieldSpec = FieldSpec {
    field: CronField::Month,
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
const DAYS_OF_WEEK: FieldSpec = FieldSpec {
    field: CronField::DayOfWeek,
    min: 1,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

impl FieldSpec {
    fn value(&self, token: &str, item: &str) -> Result<u32, ExpressionError> {
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            return token
                .parse::<u32>()
                .ok()
                .filter(|v| (self.min..=self.max).contains(v))
                .ok_or_else(|| ExpressionError::OutOfRange {
                    field: self.field,
                    value: token.to_string(),
                });
        }
        match self
            .names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(token))
        {
            Some(index) => Ok(self.min + index as u32),
            None => Err(ExpressionError::InvalidValue {
                field: self.field,
                value: item.to_string(),
            }),
        }
    }

    /// Parses a list of `*`, values, ranges and increments into the set of values it selects
    /// (bit `v` for value `v`).
    fn parse_list(&self, text: &str) -> Result<u64, ExpressionError> {
        let items: Vec<&str> = text.split(',').collect();
        let mut selected = 0u64;
        for item in &items {
            if item.is_empty() {
                return Err(ExpressionError::InvalidValue {
                    field: self.field,
                    value: text.to_string(),
                });
            }
            if *item == "*" && items.len() > 1 {
                return Err(ExpressionError::NotAlone {
                    field: self.field,
                    value: (*item).to_string(),
                });
            }
            let (base, step) = match item.split_once('/') {
                Some((base, step)) => (base, Some(self.increment(item, step)?)),
                None => (*item, None),
            };
            // An empty base only comes with an increment: `/8` is `*/8`.
            let (low, high) = if base == "*" || base.is_empty() {
                (self.min, self.max)
            } else if let Some((low, high)) = base.split_once('-') {
                let (low, high) = (self.value(low, item)?, self.value(high, item)?);
                if low > high {
                    return Err(ExpressionError::DescendingRange {
                        field: self.field,
                        value: (*item).to_string(),
                    });
                }
                (low, high)
            } else {
                let value = self.value(base, item)?;
                // `8/8` runs from 8 to the end of the field, as in Quartz.
                (value, if step.is_some() { self.max } else { value })
            };
            let step = step.unwrap_or(1);
            selected |= (low..=high)
                .step_by(step as usize)
                .fold(0u64, |bits, v| bits | 1u64 << v);
        }
        Ok(selected)
    }

    fn increment(&self, item: &str, step: &str) -> Result<u32, ExpressionError> {
        step.parse::<u32>()
            .ok()
            .filter(|s| {
                step.bytes().all(|b| b.is_ascii_digit()) && (1..=self.field.span()).contains(s)
            })
            .ok_or_else(|| ExpressionError::InvalidIncrement {
                field: self.field,
                value: item.to_string(),
            })
    }
}

fn join(selected: u64) -> String {
    (0u32..64)
        .filter(|&v| selected & (1u64 << v) != 0)
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_cron(inner: &str) -> Result<Cadence, ExpressionError> {
    let fields: Vec<&str> = inner.split(' ').filter(|f| !f.is_empty()).collect();
    let [minutes, hours, day_of_month, month, day_of_week, year] = fields[..] else {
        return Err(ExpressionError::CronFieldCount(fields.len()));
    };
    if minutes != "0" {
        return Err(ExpressionError::MinutesNotZero);
    }
    if year != "*" {
        return Err(ExpressionError::YearNotWildcard);
    }
    for (field, text, alone_allowed) in [
        (CronField::Hours, hours, false),
        (CronField::DayOfMonth, day_of_month, true),
        (CronField::Month, month, false),
        (CronField::DayOfWeek, day_of_week, true),
    ] {
        if text.contains('?') && !(alone_allowed && text == "?") {
            return Err(ExpressionError::MisplacedQuestionMark(field));
        }
    }
    if (day_of_month == "?") == (day_of_week == "?") {
        return Err(ExpressionError::DayFieldsQuestionMark);
    }

    let hour_set = HOURS.parse_list(hours)?;
    let month_set = MONTHS.parse_list(month)?;
    let (day_of_month, month_days) = day_of_month_pattern(day_of_month)?;
    let (day_of_week, week_days) = day_of_week_pattern(day_of_week)?;
    let days = if day_of_month == "?" {
        week_days
    } else {
        month_days
    };
    if days.never_in(month_set) {
        return Err(ExpressionError::NeverFires);
    }
    let hours: Vec<i64> = (0i64..24)
        .filter(|&h| hour_set & (1u64 << h) != 0)
        .collect();
    if hours
        .windows(2)
        .any(|pair| pair[1] - pair[0] < MIN_INTERVAL_HOURS)
    {
        return Err(ExpressionError::TooFrequent);
    }
    if let (Some(first), Some(last)) = (hours.first(), hours.last())
        && 24 - last + first < MIN_INTERVAL_HOURS
        && days.two_in_a_row(month_set)
    {
        return Err(ExpressionError::TooFrequent);
    }

    let pattern = format!(
        "0 0 {} {day_of_month} {} {day_of_week} *",
        join(hour_set),
        join(month_set)
    );
    // Quartz weekdays (1 = Sunday), as AWS numbers them. Every list reaches croner spelled out
    // in plain numbers, so how croner itself would read `/`, `-` and names never matters: AWS's
    // reading was applied above.
    let cron = CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Required)
        .alternative_weekdays(true)
        .build()
        .parse(&pattern)
        .map_err(|_| ExpressionError::Unsupported)?;
    Ok(Cadence::Cron(Box::new(CronCadence { cron, hours })))
}

/// The days a cron expression's date fields select, as far as the checks that croner can't
/// answer quickly need to know: whether any date matches, and whether two days in a row do.
/// Both are settled from the calendar's shape rather than by walking it, so no expression
/// makes validation slow.
enum Days {
    /// A list of days of the month (bit `d` for day `d`).
    OfMonth(u64),
    /// A list of days of the week (bit `d` for day `d`, 1 = Sunday).
    OfWeek(u64),
    /// At most one day in each month or week (`L`, `LW`, `<d>W`, `<day>L`, `<day>#<n>`), in a
    /// month of at least `shortest_month` days.
    Single { shortest_month: u32 },
}

/// The longest each month gets, February in a leap year.
const MONTH_LENGTHS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

impl Days {
    fn never_in(&self, months: u64) -> bool {
        let longest = (1..=12u32)
            .filter(|m| months & (1u64 << m) != 0)
            .map(|m| MONTH_LENGTHS[m as usize - 1])
            .max()
            .unwrap_or(0);
        match *self {
            Days::OfMonth(days) => (1..=longest).all(|d| days & (1u64 << d) == 0),
            // A month has every day of the week, and over the years a fifth of every one.
            Days::OfWeek(_) => false,
            Days::Single { shortest_month } => longest < shortest_month,
        }
    }

    fn two_in_a_row(&self, months: u64) -> bool {
        let month_selected = |m: u32| months & (1u64 << m) != 0;
        match *self {
            Days::OfMonth(days) => {
                let day = |d: u32| days & (1u64 << d) != 0;
                let within = (1..=12u32)
                    .filter(|&m| month_selected(m))
                    .any(|m| (1..MONTH_LENGTHS[m as usize - 1]).any(|d| day(d) && day(d + 1)));
                // The last day of a month (28 or 29 for February) and the 1st of the next.
                let across = day(1)
                    && (1..=12u32).any(|m| {
                        let last = MONTH_LENGTHS[m as usize - 1];
                        let last_selected = day(last) || (m == 2 && day(28));
                        month_selected(m) && month_selected(m % 12 + 1) && last_selected
                    });
                within || across
            }
            // Every month holds every pair of neighbouring weekdays; Saturday is followed by
            // Sunday.
            Days::OfWeek(days) => {
                (1..=7u32).any(|d| days & (1u64 << d) != 0 && days & (1u64 << (d % 7 + 1)) != 0)
            }
            Days::Single { .. } => false,
        }
    }
}

fn day_of_month_pattern(text: &str) -> Result<(String, Days), ExpressionError> {
    let field = CronField::DayOfMonth;
    let special = |item: &str| {
        let upper = item.to_ascii_uppercase();
        upper == "L"
            || upper == "LW"
            || upper
                .strip_suffix('W')
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    let items: Vec<&str> = text.split(',').collect();
    if items.len() > 1
        && let Some(item) = items.iter().find(|item| special(item))
    {
        return Err(ExpressionError::NotAlone {
            field,
            value: (*item).to_string(),
        });
    }
    let upper = text.to_ascii_uppercase();
    if upper == "L" || upper == "LW" {
        return Ok((upper, Days::Single { shortest_month: 1 }));
    }
    if special(text) {
        let day = DAYS_OF_MONTH.value(&text[..text.len() - 1], text)?;
        return Ok((
            format!("{day}W"),
            Days::Single {
                shortest_month: day,
            },
        ));
    }
    // croner reads a `*` (or `?`) as "the other day field decides", and an explicit list as
    // "either field matches": the wildcard must stay a wildcard.
    if text == "?" || text == "*" {
        return Ok((
            text.to_string(),
            Days::OfMonth(DAYS_OF_MONTH.parse_list("*")?),
        ));
    }
    let days = DAYS_OF_MONTH.parse_list(text)?;
    Ok((join(days), Days::OfMonth(days)))
}

fn day_of_week_pattern(text: &str) -> Result<(String, Days), ExpressionError> {
    let field = CronField::DayOfWeek;
    if text.matches('#').count() > 1 {
        return Err(ExpressionError::MultipleNth);
    }
    let special = |item: &str| {
        item.contains('#') || item.eq_ignore_ascii_case("L") || item.ends_with(['L', 'l'])
    };
    let items: Vec<&str> = text.split(',').collect();
    if items.len() > 1
        && let Some(item) = items.iter().find(|item| special(item))
    {
        return Err(ExpressionError::NotAlone {
            field,
            value: (*item).to_string(),
        });
    }
    let one_a_week_or_month = Days::Single { shortest_month: 1 };
    if text.eq_ignore_ascii_case("L") {
        return Ok(("7".to_string(), one_a_week_or_month));
    }
    if let Some((day, nth)) = text.split_once('#') {
        let day = DAYS_OF_WEEK.value(day, text)?;
        let nth = nth
            .parse::<u32>()
            .ok()
            .filter(|n| nth.bytes().all(|b| b.is_ascii_digit()) && (1..=5).contains(n))
            .ok_or_else(|| ExpressionError::NthOutOfRange(text.to_string()))?;
        return Ok((format!("{day}#{nth}"), one_a_week_or_month));
    }
    if special(text) {
        let day = DAYS_OF_WEEK.value(&text[..text.len() - 1], text)?;
        return Ok((format!("{day}L"), one_a_week_or_month));
    }
    if text == "?" || text == "*" {
        return Ok((
            text.to_string(),
            Days::OfWeek(DAYS_OF_WEEK.parse_list("*")?),
        ));
    }
    let days = DAYS_OF_WEEK.parse_list(text)?;
    Ok((join(days), Days::OfWeek(days)))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("test timestamps are RFC 3339")
    }

    fn expression(text: &str) -> RotationRules {
        RotationRules {
            schedule_expression: Some(text.to_string()),
            ..RotationRules::default()
        }
    }

    fn with_duration(mut rules: RotationRules, duration: &str) -> RotationRules {
        rules.duration = Some(duration.to_string());
        rules
    }

    fn after_days(days: i64) -> RotationRules {
        RotationRules {
            automatically_after_days: Some(days),
            ..RotationRules::default()
        }
    }

    fn schedule(rules: &RotationRules) -> Schedule {
        validate(rules).unwrap_or_else(|e| panic!("{rules:?} should be valid: {e}"))
    }

    /// A Friday, mid-morning: 2026-01-30 10:30 UTC.
    const START: &str = "2026-01-30T10:30:00Z";

    #[test]
    fn cron_expressions_fire_at_the_times_worked_out_by_hand() {
        // January 2026 ends on a Saturday; February 2026 starts on a Sunday and has 28 days;
        // March 2026 starts on a Sunday. Each row lists the next three fire times after START.
        let cases: &[(&str, [&str; 3])] = &[
            // Every 8 hours from midnight: 00, 08, 16.
            (
                "cron(0 /8 * * ? *)",
                [
                    "2026-01-30T16:00:00Z",
                    "2026-01-31T00:00:00Z",
                    "2026-01-31T08:00:00Z",
                ],
            ),
            // From 08:00 every 8 hours, restarting each day: 08, 16.
            (
                "cron(0 8/8 * * ? *)",
                [
                    "2026-01-30T16:00:00Z",
                    "2026-01-31T08:00:00Z",
                    "2026-01-31T16:00:00Z",
                ],
            ),
            // 02:00, 12:00, 22:00 daily.
            (
                "cron(0 2/10 * * ? *)",
                [
                    "2026-01-30T12:00:00Z",
                    "2026-01-30T22:00:00Z",
                    "2026-01-31T02:00:00Z",
                ],
            ),
            // Saturdays at 18:00.
            (
                "cron(0 18 ? * SAT *)",
                [
                    "2026-01-31T18:00:00Z",
                    "2026-02-07T18:00:00Z",
                    "2026-02-14T18:00:00Z",
                ],
            ),
            // First Sunday of January, April, July, October at 01:00 (4 January has passed).
            (
                "cron(0 1 ? 1/3 SUN#1 *)",
                [
                    "2026-04-05T01:00:00Z",
                    "2026-07-05T01:00:00Z",
                    "2026-10-04T01:00:00Z",
                ],
            ),
            // Last day of the month at 17:00.
            (
                "cron(0 17 L * ? *)",
                [
                    "2026-01-31T17:00:00Z",
                    "2026-02-28T17:00:00Z",
                    "2026-03-31T17:00:00Z",
                ],
            ),
            // Weekdays at 08:00; Friday's has passed.
            (
                "cron(0 8 ? * MON-FRI *)",
                [
                    "2026-02-02T08:00:00Z",
                    "2026-02-03T08:00:00Z",
                    "2026-02-04T08:00:00Z",
                ],
            ),
            // The 1st and 15th at 16:00.
            (
                "cron(0 16 1,15 * ? *)",
                [
                    "2026-02-01T16:00:00Z",
                    "2026-02-15T16:00:00Z",
                    "2026-03-01T16:00:00Z",
                ],
            ),
            // First Monday (2 = Monday) at 09:00.
            (
                "cron(0 9 ? * 2#1 *)",
                [
                    "2026-02-02T09:00:00Z",
                    "2026-03-02T09:00:00Z",
                    "2026-04-06T09:00:00Z",
                ],
            ),
            // Last Friday (6 = Friday) at midnight; 30 January's has passed.
            (
                "cron(0 0 ? * 6L *)",
                [
                    "2026-02-27T00:00:00Z",
                    "2026-03-27T00:00:00Z",
                    "2026-04-24T00:00:00Z",
                ],
            ),
            // Weekday nearest the 15th: 15 February and 15 March are Sundays, so the 16th.
            (
                "cron(0 0 15W * ? *)",
                [
                    "2026-02-16T00:00:00Z",
                    "2026-03-16T00:00:00Z",
                    "2026-04-15T00:00:00Z",
                ],
            ),
            // Weekday nearest the 1st never leaves the month: Sunday 1 February moves to the 2nd.
            (
                "cron(0 0 1W * ? *)",
                [
                    "2026-02-02T00:00:00Z",
                    "2026-03-02T00:00:00Z",
                    "2026-04-01T00:00:00Z",
                ],
            ),
            // Last weekday of the month: Saturday 31 January moves back to Friday the 30th.
            (
                "cron(0 12 LW * ? *)",
                [
                    "2026-01-30T12:00:00Z",
                    "2026-02-27T12:00:00Z",
                    "2026-03-31T12:00:00Z",
                ],
            ),
            // Last Sunday of the month.
            (
                "cron(0 0 ? * SUNL *)",
                [
                    "2026-02-22T00:00:00Z",
                    "2026-03-29T00:00:00Z",
                    "2026-04-26T00:00:00Z",
                ],
            ),
            // A bare L in Day-of-week is the last day of the week, Saturday.
            (
                "cron(0 6 ? * L *)",
                [
                    "2026-01-31T06:00:00Z",
                    "2026-02-07T06:00:00Z",
                    "2026-02-14T06:00:00Z",
                ],
            ),
            // Names are case-insensitive; JUL is July, SUN#2 the second Sunday.
            (
                "cron(0 3 ? jan,jul sun#2 *)",
                [
                    "2026-07-12T03:00:00Z",
                    "2027-01-10T03:00:00Z",
                    "2027-07-11T03:00:00Z",
                ],
            ),
        ];
        for (text, expected) in cases {
            let schedule = schedule(&expression(text));
            let mut after = at(START);
            for want in expected {
                let window = schedule
                    .next_window(after, None, at(START))
                    .expect("a window");
                assert_eq!(window.start, at(want), "{text} after {after}");
                after = window.start;
            }
        }
    }

    #[test]
    fn windows_and_next_rotation_dates() {
        struct Case {
            rules: RotationRules,
            after: &'static str,
            last_rotated: Option<&'static str>,
            created: &'static str,
            start: &'static str,
            end: &'static str,
        }
        let case = |rules, after, last_rotated, created, start, end| Case {
            rules,
            after,
            last_rotated,
            created,
            start,
            end,
        };
        let cases = [
            // AutomaticallyAfterDays, never rotated: 30 days after the day of creation.
            case(
                after_days(30),
                START,
                None,
                START,
                "2026-03-01T00:00:00Z",
                "2026-03-02T00:00:00Z",
            ),
            // ...and after the day of the last rotation once there is one.
            case(
                after_days(30),
                "2026-02-10T15:00:00Z",
                Some("2026-02-10T15:00:00Z"),
                START,
                "2026-03-12T00:00:00Z",
                "2026-03-13T00:00:00Z",
            ),
            case(
                with_duration(after_days(30), "3h"),
                "2026-02-10T15:00:00Z",
                Some("2026-02-10T15:00:00Z"),
                START,
                "2026-03-12T00:00:00Z",
                "2026-03-12T03:00:00Z",
            ),
            // Overdue (rotated 29 days ago, every 7 days): the next whole day.
            case(
                after_days(7),
                START,
                Some("2026-01-01T09:00:00Z"),
                "2025-06-01T00:00:00Z",
                "2026-01-31T00:00:00Z",
                "2026-02-01T00:00:00Z",
            ),
            // Due today, but today's window opened at midnight, before `after`: tomorrow.
            case(
                after_days(1),
                "2026-01-30T00:00:00Z",
                Some("2026-01-29T05:00:00Z"),
                START,
                "2026-01-31T00:00:00Z",
                "2026-02-01T00:00:00Z",
            ),
            // rate() in days counts like AutomaticallyAfterDays.
            case(
                expression("rate(10 days)"),
                START,
                Some(START),
                START,
                "2026-02-09T00:00:00Z",
                "2026-02-10T00:00:00Z",
            ),
            case(
                with_duration(expression("rate(1 day)"), "4h"),
                START,
                None,
                START,
                "2026-01-31T00:00:00Z",
                "2026-01-31T04:00:00Z",
            ),
            // rate() in hours: from midnight in 4-hour steps (00, 04, 08, 12), one hour by default.
            case(
                expression("rate(4 hours)"),
                START,
                None,
                START,
                "2026-01-30T12:00:00Z",
                "2026-01-30T13:00:00Z",
            ),
            case(
                with_duration(expression("rate(6 hours)"), "6h"),
                "2026-01-30T19:00:00Z",
                None,
                START,
                "2026-01-31T00:00:00Z",
                "2026-01-31T06:00:00Z",
            ),
            // A 5-hour rate keeps its interval across midnight: 20:00, then 01:00, then 06:00.
            case(
                expression("rate(5 hours)"),
                "2026-01-31T01:30:00Z",
                Some("2026-01-30T03:00:00Z"),
                START,
                "2026-01-31T06:00:00Z",
                "2026-01-31T07:00:00Z",
            ),
            // cron once a day: until the end of the UTC day.
            case(
                expression("cron(0 18 ? * SAT *)"),
                START,
                None,
                START,
                "2026-01-31T18:00:00Z",
                "2026-02-01T00:00:00Z",
            ),
            case(
                with_duration(expression("cron(0 18 ? * SAT *)"), "2h"),
                START,
                None,
                START,
                "2026-01-31T18:00:00Z",
                "2026-01-31T20:00:00Z",
            ),
            case(
                expression("cron(0 8 ? * MON-FRI *)"),
                START,
                None,
                START,
                "2026-02-02T08:00:00Z",
                "2026-02-03T00:00:00Z",
            ),
            // A rotation inside this Saturday's window leaves the next Saturday as the next one.
            case(
                expression("cron(0 18 ? * SAT *)"),
                "2026-01-31T18:30:00Z",
                Some("2026-01-31T18:30:00Z"),
                START,
                "2026-02-07T18:00:00Z",
                "2026-02-08T00:00:00Z",
            ),
            // cron several times a day: one hour by default.
            case(
                expression("cron(0 8/8 * * ? *)"),
                START,
                None,
                START,
                "2026-01-30T16:00:00Z",
                "2026-01-30T17:00:00Z",
            ),
            case(
                with_duration(expression("cron(0 8/8 * * ? *)"), "8h"),
                START,
                None,
                START,
                "2026-01-30T16:00:00Z",
                "2026-01-31T00:00:00Z",
            ),
            case(
                with_duration(expression("cron(0 /8 * * ? *)"), "3h"),
                START,
                None,
                START,
                "2026-01-30T16:00:00Z",
                "2026-01-30T19:00:00Z",
            ),
        ];
        for c in cases {
            let schedule = schedule(&c.rules);
            let last_rotated = c.last_rotated.map(at);
            let window = schedule
                .next_window(at(c.after), last_rotated, at(c.created))
                .expect("a window");
            let want = Window {
                start: at(c.start),
                end: at(c.end),
            };
            assert_eq!(window, want, "{:?} after {}", c.rules, c.after);
            assert_eq!(
                schedule.next_rotation_date(at(c.after), last_rotated, at(c.created)),
                Some(want.end),
                "NextRotationDate is the end of the window"
            );
            assert!(window.start > at(c.after));
        }
    }

    #[test]
    fn accepted_rules() {
        let accepted = [
            after_days(1),
            after_days(1000),
            with_duration(after_days(7), "24h"),
            expression("rate(4 hours)"),
            expression("rate(1 day)"),
            expression("rate(10 days)"),
            expression("rate(24 hours)"),
            expression("rate(1000 days)"),
            expression("rate(24000 hours)"),
            expression("cron(0 /8 * * ? *)"),
            expression("cron(0 8/8 * * ? *)"),
            expression("cron(0 2/10 * * ? *)"),
            expression("cron(0 18 ? * SAT *)"),
            expression("cron(0 1 ? 1/3 SUN#1 *)"),
            expression("cron(0 17 L * ? *)"),
            expression("cron(0 8 ? * MON-FRI *)"),
            expression("cron(0 16 1,15 * ? *)"),
            expression("cron(0 9 ? * 2#1 *)"),
            expression("cron(0 0 ? * 6L *)"),
            expression("cron(0 0 15W * ? *)"),
            expression("cron(0 0 LW * ? *)"),
            expression("cron(0 0 1/7 JAN-JUN/2 ? *)"),
            // 29 February exists every fourth year.
            expression("cron(0 0 29 2 ? *)"),
            // Monday 22:00 to Monday 00:00 is a week, not two hours.
            expression("cron(0 0,22 ? * MON *)"),
            expression("cron(0 0,22 1,15 * ? *)"),
            with_duration(expression("rate(4 hours)"), "4h"),
            with_duration(expression("cron(0 18 ? * SAT *)"), "6h"),
            with_duration(expression("cron(0 /8 * * ? *)"), "8h"),
            with_duration(expression("cron(0 2/10 * * ? *)"), "2h"),
            with_duration(expression("cron(0 0 * * ? *)"), "24h"),
        ];
        for rules in &accepted {
            schedule(rules);
        }
    }

    #[test]
    fn rejected_rules_and_their_messages() {
        let too_frequent = "Invalid ScheduleExpression: the schedule rotates more often than every 4 hours, the shortest interval allowed.";
        let rate_value =
            "Invalid ScheduleExpression: the rate value must be a positive whole number.";
        let question_marks = "Invalid ScheduleExpression: exactly one of the Day-of-month and Day-of-week fields must be ?.";
        let aad_range = "RotationRules.AutomaticallyAfterDays must be within 1-1000.";
        let never = "Invalid ScheduleExpression: the cron expression never matches a date.";
        let malformed_duration =
            "Invalid Duration: it must be 1 or 2 digits followed by h, for example 3h.";
        let duration_range = "Invalid Duration: the rotation window must be 1h to 24h long.";
        let cases: Vec<(RotationRules, &str)> = vec![
            // AutomaticallyAfterDays and the choice between the two.
            (after_days(0), aad_range),
            (after_days(1001), aad_range),
            (after_days(-1), aad_range),
            (
                RotationRules {
                    automatically_after_days: Some(10),
                    schedule_expression: Some("rate(10 days)".to_string()),
                    duration: None,
                },
                "You can't specify both AutomaticallyAfterDays and ScheduleExpression in RotationRules. Specify one of them.",
            ),
            (
                with_duration(RotationRules::default(), "2h"),
                "RotationRules must contain either AutomaticallyAfterDays or ScheduleExpression.",
            ),
            // The expression as a whole.
            (
                expression(""),
                "Invalid ScheduleExpression: it must be 1 to 256 characters, each a letter, digit, space, comma or one of ( ) # ? * - /.",
            ),
            (
                expression("cron(0 8 * * ? *);"),
                "Invalid ScheduleExpression: it must be 1 to 256 characters, each a letter, digit, space, comma or one of ( ) # ? * - /.",
            ),
            (
                expression(&format!("rate({} days)", "0".repeat(250))),
                "Invalid ScheduleExpression: it must be 1 to 256 characters, each a letter, digit, space, comma or one of ( ) # ? * - /.",
            ),
            (
                expression("every day"),
                "Invalid ScheduleExpression: it must be rate(Value Unit) or cron(Minutes Hours Day-of-month Month Day-of-week Year).",
            ),
            (
                expression("RATE(1 day)"),
                "Invalid ScheduleExpression: it must be rate(Value Unit) or cron(Minutes Hours Day-of-month Month Day-of-week Year).",
            ),
            // rate()
            (expression("rate(3 hours)"), too_frequent),
            (expression("rate(1 hour)"), too_frequent),
            (expression("rate(0 days)"), rate_value),
            (expression("rate(-1 days)"), rate_value),
            (
                expression("rate(1.5 days)"),
                "Invalid ScheduleExpression: it must be 1 to 256 characters, each a letter, digit, space, comma or one of ( ) # ? * - /.",
            ),
            (
                expression("rate(1 week)"),
                "Invalid ScheduleExpression: the rate unit must be hour, hours, day or days.",
            ),
            (
                expression("rate(2 Days)"),
                "Invalid ScheduleExpression: the rate unit must be hour, hours, day or days.",
            ),
            (
                expression("rate(days)"),
                "Invalid ScheduleExpression: a rate expression has the form rate(Value Unit), for example rate(10 days).",
            ),
            (
                expression("rate(1 2 days)"),
                "Invalid ScheduleExpression: a rate expression has the form rate(Value Unit), for example rate(10 days).",
            ),
            (
                expression("rate(1 days)"),
                "Invalid ScheduleExpression: the rate unit must be singular (hour, day) for the value 1 and plural otherwise.",
            ),
            (
                expression("rate(2 day)"),
                "Invalid ScheduleExpression: the rate unit must be singular (hour, day) for the value 1 and plural otherwise.",
            ),
            (
                expression("rate(1001 days)"),
                "Invalid ScheduleExpression: the rate can be at most 1000 days.",
            ),
            (
                expression("rate(24001 hours)"),
                "Invalid ScheduleExpression: the rate can be at most 1000 days.",
            ),
            (
                expression("rate(99999999999 days)"),
                "Invalid ScheduleExpression: the rate can be at most 1000 days.",
            ),
            // cron(): shape.
            (
                expression("cron(0 8 * * ?)"),
                "Invalid ScheduleExpression: a cron expression has exactly 6 fields (Minutes Hours Day-of-month Month Day-of-week Year), not 5.",
            ),
            (
                expression("cron(0 0 8 * * ? *)"),
                "Invalid ScheduleExpression: a cron expression has exactly 6 fields (Minutes Hours Day-of-month Month Day-of-week Year), not 7.",
            ),
            (
                expression("cron(30 8 * * ? *)"),
                "Invalid ScheduleExpression: the Minutes field must be 0, because rotation windows open on the hour.",
            ),
            (
                expression("cron(0/30 8 * * ? *)"),
                "Invalid ScheduleExpression: the Minutes field must be 0, because rotation windows open on the hour.",
            ),
            (
                expression("cron(0 8 * * ? 2026)"),
                "Invalid ScheduleExpression: the Year field must be *.",
            ),
            (expression("cron(0 8 ? * ? *)"), question_marks),
            (expression("cron(0 8 * * MON *)"), question_marks),
            (expression("cron(0 8 * * * *)"), question_marks),
            (
                expression("cron(0 ? * * ? *)"),
                "Invalid ScheduleExpression: ? can only stand alone in the Day-of-month or Day-of-week field, not in Hours.",
            ),
            (
                expression("cron(0 8 1,? * ? *)"),
                "Invalid ScheduleExpression: ? can only stand alone in the Day-of-month or Day-of-week field, not in Day-of-month.",
            ),
            // cron(): #, L and W.
            (
                expression("cron(0 9 ? * 2#1,4#3 *)"),
                "Invalid ScheduleExpression: the Day-of-week field can contain only one # expression.",
            ),
            (
                expression("cron(0 9 ? * 2#1,5 *)"),
                "Invalid ScheduleExpression: 2#1 must be the only value in the Day-of-week field.",
            ),
            (
                expression("cron(0 9 ? * MON#6 *)"),
                "Invalid ScheduleExpression: the number after # in MON#6 must be 1 to 5.",
            ),
            (
                expression("cron(0 9 ? * 2#0 *)"),
                "Invalid ScheduleExpression: the number after # in 2#0 must be 1 to 5.",
            ),
            (
                expression("cron(0 9 1,L * ? *)"),
                "Invalid ScheduleExpression: L must be the only value in the Day-of-month field.",
            ),
            (
                expression("cron(0 9 15W,20 * ? *)"),
                "Invalid ScheduleExpression: 15W must be the only value in the Day-of-month field.",
            ),
            (
                expression("cron(0 9 ? * 6L,2 *)"),
                "Invalid ScheduleExpression: 6L must be the only value in the Day-of-week field.",
            ),
            (
                expression("cron(0 9 L-2 * ? *)"),
                "Invalid ScheduleExpression: L-2 is not a valid value for the Day-of-month field.",
            ),
            (
                expression("cron(0 9 32W * ? *)"),
                "Invalid ScheduleExpression: 32 is out of range for the Day-of-month field, which takes 1-31.",
            ),
            // cron(): values, ranges and increments.
            (
                expression("cron(0 24 * * ? *)"),
                "Invalid ScheduleExpression: 24 is out of range for the Hours field, which takes 0-23.",
            ),
            (
                expression("cron(0 8 32 * ? *)"),
                "Invalid ScheduleExpression: 32 is out of range for the Day-of-month field, which takes 1-31.",
            ),
            (
                expression("cron(0 8 0 * ? *)"),
                "Invalid ScheduleExpression: 0 is out of range for the Day-of-month field, which takes 1-31.",
            ),
            (
                expression("cron(0 8 1 13 ? *)"),
                "Invalid ScheduleExpression: 13 is out of range for the Month field, which takes 1-12 or JAN-DEC.",
            ),
            (
                expression("cron(0 8 ? * 0 *)"),
                "Invalid ScheduleExpression: 0 is out of range for the Day-of-week field, which takes 1-7 or SUN-SAT.",
            ),
            (
                expression("cron(0 8 ? * 8#1 *)"),
                "Invalid ScheduleExpression: 8 is out of range for the Day-of-week field, which takes 1-7 or SUN-SAT.",
            ),
            (
                expression("cron(0 8 ? * FUN *)"),
                "Invalid ScheduleExpression: FUN is not a valid value for the Day-of-week field.",
            ),
            (
                expression("cron(0 8 1 JAN-FOO ? *)"),
                "Invalid ScheduleExpression: JAN-FOO is not a valid value for the Month field.",
            ),
            (
                expression("cron(0 8 1,,2 * ? *)"),
                "Invalid ScheduleExpression: 1,,2 is not a valid value for the Day-of-month field.",
            ),
            (
                expression("cron(0 8 ? * FRI-MON *)"),
                "Invalid ScheduleExpression: the range FRI-MON in the Day-of-week field must go from a lower to a higher value.",
            ),
            (
                expression("cron(0 0/0 * * ? *)"),
                "Invalid ScheduleExpression: the increment in 0/0 in the Hours field must be a whole number from 1 to 24.",
            ),
            (
                expression("cron(0 8 1/32 * ? *)"),
                "Invalid ScheduleExpression: the increment in 1/32 in the Day-of-month field must be a whole number from 1 to 31.",
            ),
            (
                expression("cron(0 *,5 * * ? *)"),
                "Invalid ScheduleExpression: * must be the only value in the Hours field.",
            ),
            // cron(): the 4-hour minimum, within a day and across midnight.
            (expression("cron(0 * * * ? *)"), too_frequent),
            (expression("cron(0 0/3 * * ? *)"), too_frequent),
            (expression("cron(0 8-10 * * ? *)"), too_frequent),
            (expression("cron(0 0,22 * * ? *)"), too_frequent),
            (expression("cron(0 1,22 ? * SAT,SUN *)"), too_frequent),
            // 31 January and 1 February are neighbours.
            (expression("cron(0 0,22 31,1 * ? *)"), too_frequent),
            // cron(): dates that never come.
            (expression("cron(0 0 30 2 ? *)"), never),
            (expression("cron(0 0 31 APR,JUN,SEP,NOV ? *)"), never),
            // Duration.
            (
                with_duration(expression("rate(1 day)"), "0h"),
                duration_range,
            ),
            (
                with_duration(expression("rate(1 day)"), "25h"),
                duration_range,
            ),
            (
                with_duration(expression("rate(1 day)"), "3"),
                malformed_duration,
            ),
            (
                with_duration(expression("rate(1 day)"), "h"),
                malformed_duration,
            ),
            (
                with_duration(expression("rate(1 day)"), "100h"),
                malformed_duration,
            ),
            (
                with_duration(expression("rate(1 day)"), "3H"),
                malformed_duration,
            ),
            (with_duration(after_days(3), "-1h"), malformed_duration),
            (
                with_duration(expression("cron(0 18 ? * SAT *)"), "7h"),
                "Invalid Duration: a 7h window opening at 18:00 UTC would extend into the next UTC day.",
            ),
            (
                with_duration(expression("cron(0 2/10 * * ? *)"), "3h"),
                "Invalid Duration: a 3h window opening at 22:00 UTC would extend into the next UTC day.",
            ),
            (
                with_duration(expression("rate(4 hours)"), "5h"),
                "Invalid Duration: a 5h window would extend into the next rotation window, which opens 4h later.",
            ),
            (
                with_duration(expression("cron(0 0/6 * * ? *)"), "7h"),
                "Invalid Duration: a 7h window would extend into the next rotation window, which opens 6h later.",
            ),
        ];
        for (rules, message) in cases {
            match validate(&rules) {
                Ok(_) => panic!("{rules:?} should be refused"),
                Err(e) => assert_eq!(e.to_string(), message, "{rules:?}"),
            }
        }
    }

    #[test]
    fn the_rotation_time_is_inside_the_window_for_every_seed() {
        let windows = [
            Window {
                start: at("2026-03-01T00:00:00Z"),
                end: at("2026-03-02T00:00:00Z"),
            },
            Window {
                start: at("2026-01-30T16:00:00Z"),
                end: at("2026-01-30T17:00:00Z"),
            },
            Window {
                start: at("2026-01-31T18:00:00Z"),
                end: at("2026-01-31T18:00:00.001Z"),
            },
        ];
        for window in windows {
            let mut seen = std::collections::BTreeSet::new();
            for seed in 0..2_000 {
                let time = rotation_time_in(window, &mut StdRng::seed_from_u64(seed));
                assert!(
                    window.start <= time && time < window.end,
                    "{time} outside {window:?}"
                );
                assert_eq!(
                    time.subsec_nanosecond() % 1_000_000,
                    0,
                    "whole milliseconds"
                );
                seen.insert(time);
            }
            let span = window.end.as_millisecond() - window.start.as_millisecond();
            assert!(
                seen.len() as i64 >= span.min(1_000),
                "spread over the window"
            );
        }
        let window = windows[0];
        assert_eq!(
            rotation_time_in(window, &mut StdRng::seed_from_u64(7)),
            rotation_time_in(window, &mut StdRng::seed_from_u64(7)),
            "a seeded generator gives a repeatable time"
        );
    }

    #[test]
    fn windows_from_every_schedule_contain_their_random_rotation_time() {
        let schedules = [
            after_days(3),
            expression("rate(4 hours)"),
            expression("rate(2 days)"),
            expression("cron(0 0 ? * 6L *)"),
            with_duration(expression("cron(0 2/10 * * ? *)"), "2h"),
        ];
        let mut random = StdRng::seed_from_u64(42);
        for rules in &schedules {
            let schedule = schedule(rules);
            let mut after = at(START);
            for _ in 0..50 {
                let window = schedule
                    .next_window(after, Some(after), at(START))
                    .expect("a window");
                assert!(window.start > after && window.start < window.end);
                let time = rotation_time_in(window, &mut random);
                assert!(window.start <= time && time < window.end);
                after = time;
            }
        }
    }

    /// The calendar-shape answers of `Days` against croner walking eight years of days (2000 and
    /// 2004 are leap years): "two days in a row" and "never fires".
    #[test]
    fn day_selections_agree_with_walking_the_calendar() {
        use jiff::civil::DateTime;
        let cases = [
            ("1,2", "*", "?"),
            ("5,10", "*", "?"),
            ("30,31", "2", "?"),
            ("28,29", "2", "?"),
            ("1,31", "1,2", "?"),
            ("1,31", "1,3", "?"),
            ("1,30", "4,5", "?"),
            ("1,30", "3,4", "?"),
            ("1,28", "2,3", "?"),
            ("1,29", "2,3", "?"),
            ("1,31", "12,1", "?"),
            ("1,31", "12", "?"),
            ("1/2", "*", "?"),
            ("2/2", "*", "?"),
            ("31", "2,4", "?"),
            ("29", "2", "?"),
            ("*", "*", "?"),
            ("L", "*", "?"),
            ("LW", "*", "?"),
            ("15W", "*", "?"),
            ("31W", "4", "?"),
            ("?", "*", "1,7"),
            ("?", "*", "2,4,6"),
            ("?", "*", "MON-WED"),
            ("?", "FEB", "*"),
            ("?", "*", "MON"),
            ("?", "*", "6L"),
            ("?", "*", "2#1"),
            ("?", "*", "L"),
        ];
        let parser = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Required)
            .alternative_weekdays(true)
            .build();
        for (dom, month, dow) in cases {
            let months = MONTHS.parse_list(month).expect("month");
            let (dom_text, month_days) = day_of_month_pattern(dom).expect("day of month");
            let (dow_text, week_days) = day_of_week_pattern(dow).expect("day of week");
            let days = if dom == "?" { week_days } else { month_days };
            let cron = parser
                .parse(&format!("0 0 0 {dom_text} {} {dow_text} *", join(months)))
                .expect("croner parses the rewritten fields");

            let start = DateTime::constant(2000, 1, 1, 0, 0, 0, 0);
            let end = DateTime::constant(2008, 1, 1, 0, 0, 0, 0);
            let never = cron.find_next_occurrence(&start, true).is_err();
            assert_eq!(
                days.never_in(months),
                never,
                "never fires: {dom} {month} {dow}"
            );

            let mut in_a_row = false;
            let mut previous: Option<DateTime> = None;
            let mut cursor = start;
            while let Ok(day) = cron.find_next_occurrence(&cursor, previous.is_none()) {
                if day >= end {
                    break;
                }
                in_a_row |= previous.and_then(|p| p.tomorrow().ok()) == Some(day);
                previous = Some(day);
                cursor = day;
            }
            assert_eq!(
                days.two_in_a_row(months),
                in_a_row,
                "two in a row: {dom} {month} {dow}"
            );
        }
    }

    #[test]
    fn rotation_rules_are_stored_with_aws_member_names() {
        let rules = RotationRules {
            automatically_after_days: None,
            duration: Some("3h".to_string()),
            schedule_expression: Some("cron(0 18 ? * SAT *)".to_string()),
        };
        let json = serde_json::to_string(&rules).expect("serialises");
        assert_eq!(
            json,
            r#"{"Duration":"3h","ScheduleExpression":"cron(0 18 ? * SAT *)"}"#
        );
        let back: RotationRules = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, rules);
        let stored: RotationRules =
            serde_json::from_str(r#"{"AutomaticallyAfterDays":30}"#).expect("deserialises");
        assert_eq!(stored, after_days(30));
    }
}
