use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;
use zeroize::Zeroizing;

use crate::RotationDbError;

/// A database engine that managed rotation can talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    Postgres,
    MySql,
    MariaDb,
}

impl Engine {
    /// The port used when the secret names none.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Postgres => 5432,
            Self::MySql | Self::MariaDb => 3306,
        }
    }

    /// The longest user name the engine accepts: bytes for PostgreSQL (NAMEDATALEN - 1),
    /// characters for MySQL (5.7 and later) and MariaDB.
    pub fn max_user_name_len(self) -> usize {
        match self {
            Self::Postgres => 63,
            Self::MySql => 32,
            Self::MariaDb => 80,
        }
    }

    /// The name AWS uses for the engine in the secret JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
            Self::MariaDb => "mariadb",
        }
    }

    fn from_secret(value: &str) -> Option<Self> {
        // The aurora-* spellings are what AWS's own rotation templates also accept.
        match value {
            "postgres" | "aurora-postgresql" => Some(Self::Postgres),
            "mysql" | "aurora-mysql" => Some(Self::MySql),
            "mariadb" => Some(Self::MariaDb),
            _ => None,
        }
    }

    /// The length of `name` in the unit the engine's limit is counted in.
    pub(crate) fn user_name_len(self, name: &str) -> usize {
        match self {
            Self::Postgres => name.len(),
            Self::MySql | Self::MariaDb => name.chars().count(),
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One member of the secret JSON object, in the order it came.
#[derive(Clone)]
enum Member {
    Username,
    Password,
    // Kept as the original JSON text so a rewrite gives back exactly what was there (a port
    // written as a string stays a string, a large number keeps its digits).
    Other(Box<RawValue>),
}

/// A database secret in AWS's documented JSON structure:
/// `{"engine", "host", "username", "password", "port"?, "dbname"?, "masterarn"?, ...}`.
///
/// The password is held in zeroizing memory and never shows in `Debug`. Members this crate does
/// not know are kept, in their original order and spelling, for [`with_credentials`](Self::with_credentials).
#[derive(Clone)]
pub struct DatabaseSecret {
    engine: Engine,
    host: String,
    port: u16,
    username: String,
    password: Zeroizing<String>,
    dbname: Option<String>,
    master_arn: Option<String>,
    members: Vec<(String, Member)>,
}

impl DatabaseSecret {
    /// Parses a secret string. `engine`, `host`, `username` and `password` are required; `port`
    /// may be a number or a string of digits. Errors name the offending key, never its value.
    pub fn parse(secret_string: &str) -> Result<Self, RotationDbError> {
        let raw: RawSecret = serde_json::from_str(secret_string).map_err(describe_json_error)?;
        raw.into_secret()
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The `dbname` member as written (absent and `null` both give `None`).
    pub fn dbname(&self) -> Option<&str> {
        self.dbname.as_deref()
    }

    /// The database to connect to: `dbname`, or `postgres` for PostgreSQL when it is absent
    /// (MySQL and MariaDB connect without a default database).
    pub fn database(&self) -> Option<&str> {
        match (&self.dbname, self.engine) {
            (Some(db), _) => Some(db),
            (None, Engine::Postgres) => Some("postgres"),
            (None, _) => None,
        }
    }

    /// The `masterarn` member: the secret whose credentials the alternating-users strategy logs
    /// in with.
    pub fn master_arn(&self) -> Option<&str> {
        self.master_arn.as_deref()
    }

    /// `host:port`, for messages.
    pub fn endpoint(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The secret JSON with `username` and `password` replaced and every other member, known or
    /// not, kept as it was. The result holds a password, so it is zeroized when dropped.
    pub fn with_credentials(&self, username: &str, password: &str) -> Zeroizing<String> {
        // Sized up front for the worst case (every character escaped as \uXXXX) so the buffer
        // never reallocates, which would leave an unzeroized copy of the password behind.
        let escaped_max = |s: &str| 6 * s.len() + 2;
        let capacity = 2 + self
            .members
            .iter()
            .map(|(key, member)| {
                escaped_max(key)
                    + 2
                    + match member {
                        Member::Username => escaped_max(username),
                        Member::Password => escaped_max(password),
                        Member::Other(raw) => raw.get().len(),
                    }
            })
            .sum::<usize>();
        let mut out = Zeroizing::new(Vec::with_capacity(capacity));
        out.push(b'{');
        for (i, (key, member)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_string(&mut out, key);
            out.push(b':');
            match member {
                Member::Username => write_json_string(&mut out, username),
                Member::Password => write_json_string(&mut out, password),
                Member::Other(raw) => out.extend_from_slice(raw.get().as_bytes()),
            }
        }
        out.push(b'}');
        debug_assert!(out.len() <= capacity);
        let bytes = std::mem::take(&mut *out);
        Zeroizing::new(String::from_utf8(bytes).expect("serde_json writes UTF-8"))
    }

    /// The same database and members, logging in as other credentials: the pending secret of a
    /// rotation before it is stored, or the clone user of the alternating-users strategy.
    pub fn login_as(&self, username: &str, password: &str) -> DatabaseSecret {
        DatabaseSecret {
            username: username.to_owned(),
            password: Zeroizing::new(password.to_owned()),
            ..self.clone()
        }
    }
}

fn write_json_string(out: &mut Vec<u8>, value: &str) {
    serde_json::to_writer(&mut *out, value).expect("writing a string to a Vec cannot fail");
}

impl fmt::Debug for DatabaseSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Unknown members are listed by name only: people put other secrets in there too.
        let other_keys: Vec<&str> = self
            .members
            .iter()
            .filter(|(key, _)| !KNOWN_KEYS.contains(&key.as_str()))
            .map(|(key, _)| key.as_str())
            .collect();
        f.debug_struct("DatabaseSecret")
            .field("engine", &self.engine)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("dbname", &self.dbname)
            .field("master_arn", &self.master_arn)
            .field("other_keys", &other_keys)
            .finish()
    }
}

const KNOWN_KEYS: &[&str] = &[
    "engine",
    "host",
    "port",
    "username",
    "password",
    "dbname",
    "masterarn",
];

const DUPLICATE_KEY: &str = "duplicate key ";

/// serde_json's own messages quote the input for some errors ("invalid type: string \"...\""),
/// which could be the password, so only the position of a syntax error and this module's own
/// messages (which name keys, not values) are passed on.
fn describe_json_error(e: serde_json::Error) -> RotationDbError {
    use serde_json::error::Category;
    let message = e.to_string();
    let own = message.starts_with(DUPLICATE_KEY) || message.starts_with('`');
    RotationDbError::InvalidSecret(match e.classify() {
        Category::Data if own => match message.rsplit_once(" at line ") {
            Some((text, _)) => text.to_owned(),
            None => message,
        },
        Category::Data => "the secret string must be a JSON object".to_owned(),
        Category::Syntax | Category::Eof | Category::Io => format!(
            "not valid JSON (error at line {} column {})",
            e.line(),
            e.column()
        ),
    })
}

/// The secret as read: members in order, the password already in zeroizing memory.
struct RawSecret {
    members: Vec<(String, Member)>,
    username: Option<String>,
    password: Option<Zeroizing<String>>,
}

impl<'de> Deserialize<'de> for RawSecret {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RawSecretVisitor)
    }
}

struct RawSecretVisitor;

impl<'de> Visitor<'de> for RawSecretVisitor {
    type Value = RawSecret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawSecret, A::Error> {
        let mut secret = RawSecret {
            members: Vec::new(),
            username: None,
            password: None,
        };
        while let Some(key) = map.next_key::<String>()? {
            // Which of two values would win is parser-dependent, so a duplicate is refused
            // rather than guessed at.
            if secret.members.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format_args!("{DUPLICATE_KEY}`{key}`")));
            }
            let member = match key.as_str() {
                "username" => match map.next_value::<Option<String>>() {
                    Ok(value) => {
                        secret.username = value;
                        Member::Username
                    }
                    Err(_) => return Err(de::Error::custom(WrongType("username"))),
                },
                "password" => match map.next_value::<Option<String>>() {
                    Ok(value) => {
                        secret.password = value.map(Zeroizing::new);
                        Member::Password
                    }
                    Err(_) => return Err(de::Error::custom(WrongType("password"))),
                },
                _ => Member::Other(map.next_value::<Box<RawValue>>()?),
            };
            secret.members.push((key, member));
        }
        Ok(secret)
    }
}

/// Reported in place of serde's message, which would quote the value.
struct WrongType(&'static str);

impl fmt::Display for WrongType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` must be a string", self.0)
    }
}

impl RawSecret {
    fn into_secret(self) -> Result<DatabaseSecret, RotationDbError> {
        let invalid = |message: String| RotationDbError::InvalidSecret(message);
        let raw = |key: &str| {
            self.members.iter().find_map(|(k, member)| match member {
                Member::Other(raw) if k == key => Some(raw.get()),
                _ => None,
            })
        };
        let optional_string = |key: &str| -> Result<Option<String>, RotationDbError> {
            match raw(key) {
                None => Ok(None),
                Some(text) => serde_json::from_str::<Option<String>>(text)
                    .map_err(|_| invalid(format!("`{key}` must be a string"))),
            }
        };
        let required_string = |key: &str| -> Result<String, RotationDbError> {
            optional_string(key)?.ok_or_else(|| invalid(format!("missing required key `{key}`")))
        };

        let engine_name = required_string("engine")?;
        let engine = Engine::from_secret(&engine_name).ok_or_else(|| {
            invalid(
                "`engine` must be one of postgres, aurora-postgresql, mysql, aurora-mysql, mariadb"
                    .to_owned(),
            )
        })?;
        let host = required_string("host")?;
        if host.is_empty() {
            return Err(invalid("`host` must not be empty".to_owned()));
        }
        // tokio-postgres takes a host starting with '/' as a Unix socket directory; a secret names
        // a network endpoint, and a local socket is often trusted without a password.
        if host.starts_with('/') || host.contains('\0') {
            return Err(invalid(
                "`host` must be a host name or IP address".to_owned(),
            ));
        }
        let username = self
            .username
            .ok_or_else(|| invalid("missing required key `username`".to_owned()))?;
        if username.is_empty() {
            return Err(invalid("`username` must not be empty".to_owned()));
        }
        let password = self
            .password
            .ok_or_else(|| invalid("missing required key `password`".to_owned()))?;
        let port = match raw("port") {
            None => engine.default_port(),
            Some(text) => parse_port(text)
                .ok_or_else(|| {
                    invalid(
                        "`port` must be a port number (1-65535), as a number or a string"
                            .to_owned(),
                    )
                })?
                .unwrap_or_else(|| engine.default_port()),
        };
        let dbname = optional_string("dbname")?;
        let master_arn = optional_string("masterarn")?;

        Ok(DatabaseSecret {
            engine,
            host,
            port,
            username,
            password,
            dbname,
            master_arn,
            members: self.members,
        })
    }
}

/// `Some(None)` for `null` (treated as absent), `None` when the value is not a port.
fn parse_port(text: &str) -> Option<Option<u16>> {
    match serde_json::from_str::<serde_json::Value>(text).ok()? {
        serde_json::Value::Null => Some(None),
        serde_json::Value::Number(n) => {
            let port = u16::try_from(n.as_u64()?).ok()?;
            (port != 0).then_some(Some(port))
        }
        serde_json::Value::String(s) => {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let port = s.parse::<u16>().ok()?;
            (port != 0).then_some(Some(port))
        }
        _ => None,
    }
}
