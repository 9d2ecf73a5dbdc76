//! Built-in rule variables: the values of Snort 2.9.20's `etc/snort.conf` for the usual names
//! (plus the ICS names ET rules use), so stock ET and community rule files load without a
//! snort.conf. Config `[vars]` and `var` lines in rule files override them.

use super::addr::Vars;

/// Snort 2.9.20 snort.conf "Step #1" (ipvar/portvar), and the SCADA names from ET's sample
/// configuration (DNP3, Modbus, ENIP), all defaulting to `$HOME_NET`-style values.
const DEFAULTS: &[(&str, &str)] = &[
    ("HOME_NET", "any"),
    ("EXTERNAL_NET", "any"),
    ("DNS_SERVERS", "$HOME_NET"),
    ("SMTP_SERVERS", "$HOME_NET"),
    ("HTTP_SERVERS", "$HOME_NET"),
    ("SQL_SERVERS", "$HOME_NET"),
    ("TELNET_SERVERS", "$HOME_NET"),
    ("SSH_SERVERS", "$HOME_NET"),
    ("FTP_SERVERS", "$HOME_NET"),
    ("SIP_SERVERS", "$HOME_NET"),
    (
        "HTTP_PORTS",
        "[36,80,81,82,83,84,85,86,87,88,89,90,311,383,555,591,593,631,801,808,818,901,972,1158,1220,1414,1533,1741,1812,1830,1942,2231,2301,2381,2578,2809,2980,3029,3037,3057,3128,3443,3702,4000,4343,4848,5000,5117,5250,5450,5600,5814,6080,6173,6988,7000,7001,7005,7071,7144,7145,7510,7770,7777,7778,7779,8000,8001,8008,8014,8015,8020,8028,8040,8080,8081,8082,8085,8088,8090,8118,8123,8180,8181,8182,8222,8243,8280,8300,8333,8344,8400,8443,8500,8509,8787,8800,8888,8899,8983,9000,9002,9060,9080,9090,9091,9111,9290,9443,9447,9710,9788,9999,10000,11371,12601,13014,15489,19980,29991,33300,34412,34443,34444,40007,41080,44449,50000,50002,51423,53331,55252,55555,56712]",
    ),
    ("SHELLCODE_PORTS", "!80"),
    ("ORACLE_PORTS", "1024:"),
    ("SSH_PORTS", "22"),
    ("FTP_PORTS", "[21,2100,3535]"),
    ("SIP_PORTS", "[5060,5061,5600]"),
    ("FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"),
    ("GTP_PORTS", "[2123,2152,3386]"),
    (
        "AIM_SERVERS",
        "[64.12.24.0/23,64.12.28.0/23,64.12.161.0/24,64.12.163.0/24,64.12.200.0/24,205.188.3.0/24,205.188.5.0/24,205.188.7.0/24,205.188.9.0/24,205.188.153.0/24,205.188.179.0/24,205.188.248.0/24]",
    ),
    ("DNP3_SERVER", "$HOME_NET"),
    ("DNP3_CLIENT", "$HOME_NET"),
    ("DNP3_PORTS", "20000"),
    ("MODBUS_CLIENT", "$HOME_NET"),
    ("MODBUS_SERVER", "$HOME_NET"),
    ("MODBUS_PORTS", "502"),
    ("ENIP_CLIENT", "$HOME_NET"),
    ("ENIP_SERVER", "$HOME_NET"),
];

/// The built-in variables.
pub fn defaults() -> Vars {
    DEFAULTS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
