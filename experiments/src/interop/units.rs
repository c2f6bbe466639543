//! Shadow's quantities with units, as `graph.gml` and `shadow.yaml` write
//! them: bandwidths (`"50 Mbit"`) and durations (`"2 ms"`).

use super::{bad, InteropError};

/// `"50 Mbit"` -> (`"50"`, `"Mbit"`): the leading number and the unit after it.
fn number_and_unit(s: &str) -> (&str, &str) {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    (s[..split].trim(), s[split..].trim())
}

/// Shadow bandwidth (`"50 Mbit"`) in bits per second.
pub fn parse_bandwidth(s: &str) -> Result<u64, InteropError> {
    let s = s.trim();
    let (num, unit) = number_and_unit(s);
    let x: f64 = num
        .parse()
        .map_err(|_| bad(format!("graph.gml: bandwidth `{s}`: no number")))?;
    let mult = match unit {
        "" | "bit" | "b" => 1.0,
        "Kbit" | "kbit" | "kilobit" => 1e3,
        "Mbit" | "mbit" | "megabit" => 1e6,
        "Gbit" | "gbit" | "gigabit" => 1e9,
        "Tbit" | "tbit" | "terabit" => 1e12,
        "Kibit" | "kibibit" => 1024.0,
        "Mibit" | "mebibit" => 1024.0 * 1024.0,
        "Gibit" | "gibibit" => 1024.0 * 1024.0 * 1024.0,
        "B" | "byte" => 8.0,
        "KB" | "kB" | "kilobyte" => 8e3,
        "MB" | "megabyte" => 8e6,
        "GB" | "gigabyte" => 8e9,
        "KiB" => 8.0 * 1024.0,
        "MiB" => 8.0 * 1024.0 * 1024.0,
        "GiB" => 8.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(bad(format!(
                "graph.gml: bandwidth `{s}`: unknown unit `{unit}`"
            )))
        }
    };
    Ok((x * mult).round().max(1.0) as u64)
}

/// A Shadow duration (`"2 ms"`, `"10 min"`) in nanoseconds; a bare number is `bare_unit_ns` each.
pub fn parse_duration(s: &str, bare_unit_ns: Option<f64>) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = number_and_unit(s);
    let x: f64 = num.parse().map_err(|_| format!("`{s}`: no number"))?;
    let mult = match unit {
        "ns" | "nanosecond" | "nanoseconds" => 1.0,
        "us" | "μs" | "microsecond" | "microseconds" => 1e3,
        "ms" | "millisecond" | "milliseconds" => 1e6,
        "s" | "sec" | "secs" | "second" | "seconds" => 1e9,
        "min" | "mins" | "minute" | "minutes" => 60e9,
        "h" | "hr" | "hour" | "hours" => 3600e9,
        "" => {
            bare_unit_ns.ok_or_else(|| format!("`{s}`: a unit is required (for example `ms`)"))?
        }
        _ => return Err(format!("`{s}`: unknown unit `{unit}`")),
    };
    Ok((x * mult).round() as u64)
}
