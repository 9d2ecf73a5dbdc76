//! The console's pages: small HTML documents with every text from rules, eve.json and
//! packets escaped ([`esc`]), no inline script or style (the Content-Security-Policy allows
//! only `/assets/`), and the embedded assets. The script fills in what changes (the alerts
//! list, the investigation, the charts) from the JSON API with `textContent`, never as HTML.

use serde_json::Value;

const JS: &str = include_str!("assets/console.js");
const CSS: &str = include_str!("assets/console.css");
const ICON: &str = include_str!("assets/icon.svg");

/// An embedded asset by its name: body and content type.
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "console.js" => Some((JS, "text/javascript; charset=utf-8")),
        "console.css" => Some((CSS, "text/css; charset=utf-8")),
        "icon.svg" => Some((ICON, "image/svg+xml")),
        _ => None,
    }
}

/// HTML-escapes `s` for text and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// `s` cut to `max` characters with control characters as spaces (for error messages that
/// quote what a client sent).
pub fn printable(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn shell(title: &str, page: &str, data: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · nsm-sensor</title>\
         <link rel=\"icon\" href=\"/assets/icon.svg\">\
         <link rel=\"stylesheet\" href=\"/assets/console.css\">\
         <script src=\"/assets/console.js\" defer></script></head>\
         <body data-page=\"{page}\"{data}>\
         <header><span class=\"brand\">nsm-sensor</span>\
         <nav><a href=\"/alerts\" id=\"nav-alerts\">Alerts</a> <a href=\"/sensor\" id=\"nav-sensor\">Sensor</a></nav></header>\
         <main>{body}</main></body></html>\n",
        title = esc(title),
    )
}

/// The Alerts page: filters, the (grouped) list, paging; filled and kept live by the script.
pub fn alerts() -> String {
    shell(
        "Alerts",
        "alerts",
        "",
        "<h1>Alerts</h1>\
         <form id=\"filters\" autocomplete=\"off\">\
         <label>From <input name=\"from\" placeholder=\"2024-05-01 10:00:00\"></label>\
         <label>To <input name=\"to\" placeholder=\"epoch or RFC 3339\"></label>\
         <label>SID <input name=\"sid\" inputmode=\"numeric\" size=\"9\"></label>\
         <label>Address <input name=\"ip\" placeholder=\"10.0.0.0/8\" size=\"16\"></label>\
         <label>Classification <input name=\"class\" size=\"16\"></label>\
         <label>Priority <select name=\"priority\"><option value=\"\">any</option>\
         <option>1</option><option>2</option><option>3</option><option>4</option></select></label>\
         <label><input type=\"checkbox\" name=\"group\" checked> grouped</label>\
         <button type=\"submit\">Apply</button></form>\
         <p id=\"summary\" class=\"muted\">Loading…</p><p id=\"fresh\" class=\"fresh\" hidden></p>\
         <table id=\"alerts\" class=\"list\"><thead></thead><tbody></tbody></table>\
         <p class=\"pager\"><button id=\"prev\" type=\"button\">← Newer</button> \
         <span id=\"pageinfo\"></span> <button id=\"next\" type=\"button\">Older →</button></p>",
    )
}

/// The Sensor page: charts from stats.log, ring files, disk, rules, reload.
pub fn sensor() -> String {
    shell(
        "Sensor",
        "sensor",
        "",
        "<h1>Sensor</h1>\
         <section><h2>Traffic</h2><p id=\"stats-note\" class=\"muted\"></p>\
         <div class=\"charts\"><figure><figcaption>Packets/s</figcaption><canvas id=\"c-pps\" width=\"420\" height=\"150\"></canvas></figure>\
         <figure><figcaption>Drops per interval</figcaption><canvas id=\"c-drops\" width=\"420\" height=\"150\"></canvas></figure>\
         <figure><figcaption>Alerts/min</figcaption><canvas id=\"c-apm\" width=\"420\" height=\"150\"></canvas></figure></div></section>\
         <section><h2>Rule set</h2><div id=\"rules\"></div></section>\
         <section><h2>Last reload</h2><div id=\"reload\"></div></section>\
         <section><h2>Disk</h2><div id=\"disk\"></div></section>\
         <section><h2>Ring files</h2><table id=\"ring\" class=\"list\"><thead><tr><th>File</th><th>First packet</th><th>Last packet</th><th>Packets</th><th>Size</th></tr></thead><tbody></tbody></table></section>",
    )
}

/// The Alert page: what is known at once (records, rule) in the HTML, escaped; the
/// investigation is fetched by the script (it reads the ring).
pub fn alert(
    id: u64,
    summary: &Value,
    full: Option<&str>,
    eve: &str,
    rule: Option<(&str, u32, &str)>,
) -> String {
    let s = |k: &str| {
        summary
            .get(k)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .unwrap_or_default()
    };
    let ep = |ip: &str, port: &str| {
        let p = s(port);
        if p == "null" || p.is_empty() {
            s(ip)
        } else {
            format!("{}:{p}", s(ip))
        }
    };
    let full = match full {
        Some(t) => format!("<pre id=\"alert-full\">{}</pre>", esc(t)),
        None => "<p class=\"muted\" id=\"alert-full\">No matching record in the Snort <code>alert</code> file (switched off, rotated, or not yet written).</p>".into(),
    };
    let rule = match rule {
        Some((file, line, text)) => format!(
            "<p class=\"loc\" id=\"rule-loc\">{}:{line}</p><pre id=\"rule-text\">{}</pre>",
            esc(file),
            esc(text)
        ),
        None => "<p class=\"muted\" id=\"rule-loc\">The rule is not in the console's rule set (another rule set, or changed since).</p>".into(),
    };
    let sig = s("signature");
    let body = format!(
        "<p><a href=\"/alerts\">← Alerts</a></p>\
         <h1 id=\"signature\">{sig}</h1>\
         <p class=\"meta\"><span>{time}</span> · <span>[{gid}:{sid}:{rev}]</span> · <span>{class}</span> · <span>Priority {prio}</span> · \
         <span>{{{proto}}} {src} → {dst}</span></p>\
         <section id=\"investigation\"><h2>Investigation</h2>\
         <p id=\"verdict\" class=\"verdict muted\">Investigating…</p>\
         <p class=\"downloads\"><a class=\"button\" id=\"dl-evidence\" href=\"/api/alerts/{id}/evidence.pcap\" download>Evidence pcap</a> \
         <a class=\"button\" id=\"dl-carve\" href=\"/api/alerts/{id}/carve.pcap?before=300&amp;after=300\" download>Ring ±5 min (these hosts)</a> \
         <a class=\"button\" href=\"/api/alerts/{id}/carve.pcap?before=300&amp;after=300&amp;scope=all\" download>Ring ±5 min (all traffic)</a></p>\
         <div id=\"inv-source\"></div>\
         <div class=\"charts\"><figure><figcaption>Timeline: packets per direction</figcaption><canvas id=\"timeline-packets\" width=\"520\" height=\"170\"></canvas></figure>\
         <figure><figcaption>Timeline: bytes per direction</figcaption><canvas id=\"timeline-bytes\" width=\"520\" height=\"170\"></canvas></figure></div>\
         <table id=\"conversation\" class=\"list\"><thead><tr><th>#</th><th>Time</th><th>Direction</th><th>Flags</th><th>Bytes</th><th>Payload</th></tr></thead><tbody></tbody></table>\
         <details><summary>tcpdump-style lines</summary><pre id=\"packet-lines\"></pre></details></section>\
         <section><h2>Snort alert_full record</h2>{full}</section>\
         <section><h2>EVE record</h2><pre id=\"eve\">{eve}</pre></section>\
         <section><h2>Rule</h2>{rule}</section>",
        sig = esc(&sig),
        time = esc(&s("time")),
        gid = esc(&s("gid")),
        sid = esc(&s("sid")),
        rev = esc(&s("rev")),
        class = esc(&s("classification")),
        prio = esc(&s("priority")),
        proto = esc(&s("proto")),
        src = esc(&ep("src_ip", "src_port")),
        dst = esc(&ep("dest_ip", "dest_port")),
        eve = esc(eve),
    );
    shell(
        &format!("Alert {id}: {sig}"),
        "alert",
        &format!(" data-alert-id=\"{id}\""),
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\"\u{1b}[2J"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot; [2J"
        );
        assert!(asset("../console.js").is_none());
        assert!(asset("console.js").is_some());
    }
}
