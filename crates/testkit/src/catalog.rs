//! Static reference data: cities with real coordinates and address blocks, user agents, Entra
//! first-party applications, names, error codes and AWS API vocabularies.

/// A place that IP addresses geolocate to. Coordinates are real city centres.
pub struct City {
    pub name: &'static str,
    pub state: &'static str,
    pub country: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// Offset of local time from UTC in November, hours.
    pub utc_offset: i64,
    /// IPv4 prefixes (two or three leading octets) of residential / hosting blocks here.
    pub v4: &'static [&'static [u8]],
    /// First two groups of an IPv6 block here (`0` = no IPv6 block).
    pub v6: [u16; 2],
    pub asn: u32,
}

macro_rules! city {
    ($name:expr, $state:expr, $cc:expr, $lat:expr, $lon:expr, $off:expr, $v4:expr, $v6:expr, $asn:expr) => {
        City {
            name: $name,
            state: $state,
            country: $cc,
            lat: $lat,
            lon: $lon,
            utc_offset: $off,
            v4: $v4,
            v6: $v6,
            asn: $asn,
        }
    };
}

pub const LONDON: usize = 0;
pub const MANCHESTER: usize = 1;
pub const DUBLIN: usize = 2;
pub const NEW_YORK: usize = 3;
pub const SEATTLE: usize = 4;
pub const PARIS: usize = 5;
pub const SYDNEY: usize = 6;
pub const TOKYO: usize = 7;
pub const SINGAPORE: usize = 8;
pub const BERLIN: usize = 9;
pub const SHANGHAI: usize = 10;
pub const PYONGYANG: usize = 11;
pub const TEHRAN: usize = 12;
pub const MOSCOW: usize = 13;
pub const BEIJING: usize = 14;
pub const MINSK: usize = 15;
pub const BUCHAREST: usize = 16;
pub const FRANKFURT: usize = 17;
pub const AMSTERDAM: usize = 18;
pub const ASHBURN: usize = 19;
pub const SAO_PAULO: usize = 20;
pub const LAGOS: usize = 21;
pub const DALLAS: usize = 22;

pub static CITIES: &[City] = &[
    city!(
        "London",
        "London",
        "GB",
        51.5074,
        -0.1278,
        0,
        &[&[81, 2], &[86, 128], &[2, 24], &[31, 94]],
        [0x2a00, 0x23c5],
        2856
    ),
    city!(
        "Manchester",
        "Manchester",
        "GB",
        53.4808,
        -2.2426,
        0,
        &[&[82, 132], &[90, 216]],
        [0x2a02, 0x0c7c],
        5089
    ),
    city!(
        "Dublin",
        "Dublin",
        "IE",
        53.3498,
        -6.2603,
        0,
        &[&[89, 100], &[86, 40]],
        [0x2a02, 0x8084],
        6830
    ),
    city!(
        "New York",
        "New York",
        "US",
        40.7128,
        -74.0060,
        -5,
        &[&[68, 173], &[72, 229]],
        [0x2600, 0x4040],
        701
    ),
    city!(
        "Seattle",
        "Washington",
        "US",
        47.6062,
        -122.3321,
        -8,
        &[&[73, 53], &[24, 16]],
        [0x2601, 0x0600],
        7922
    ),
    city!(
        "Paris",
        "Ile-de-France",
        "FR",
        48.8566,
        2.3522,
        1,
        &[&[90, 3], &[78, 192]],
        [0x2a01, 0xcb00],
        3215
    ),
    city!(
        "Sydney",
        "New South Wales",
        "AU",
        -33.8688,
        151.2093,
        11,
        &[&[101, 160], &[1, 128]],
        [0x2001, 0x8003],
        1221
    ),
    city!(
        "Tokyo",
        "Tokyo",
        "JP",
        35.6762,
        139.6503,
        9,
        &[&[126, 65], &[153, 156]],
        [0x240b, 0x0010],
        2516
    ),
    city!(
        "Singapore",
        "Singapore",
        "SG",
        1.3521,
        103.8198,
        8,
        &[&[116, 86], &[58, 182]],
        [0x2406, 0x3003],
        9506
    ),
    city!(
        "Berlin",
        "Berlin",
        "DE",
        52.5200,
        13.4050,
        1,
        &[&[93, 192], &[87, 123]],
        [0x2003, 0x00e5],
        3320
    ),
    city!(
        "Shanghai",
        "Shanghai",
        "CN",
        31.2304,
        121.4737,
        8,
        &[&[101, 81], &[116, 228]],
        [0, 0],
        4812
    ),
    city!(
        "Pyongyang",
        "Pyongyang",
        "KP",
        39.0392,
        125.7625,
        9,
        &[&[175, 45, 176], &[175, 45, 177]],
        [0, 0],
        131279
    ),
    city!(
        "Tehran",
        "Tehran",
        "IR",
        35.6892,
        51.3890,
        3,
        &[&[5, 160], &[2, 176]],
        [0, 0],
        58224
    ),
    city!(
        "Moscow",
        "Moscow",
        "RU",
        55.7558,
        37.6173,
        3,
        &[&[95, 165], &[178, 176]],
        [0, 0],
        12389
    ),
    city!(
        "Beijing",
        "Beijing",
        "CN",
        39.9042,
        116.4074,
        8,
        &[&[123, 112], &[111, 192]],
        [0, 0],
        4808
    ),
    city!(
        "Minsk",
        "Minsk",
        "BY",
        53.9006,
        27.5590,
        3,
        &[&[178, 120], &[37, 214]],
        [0, 0],
        6697
    ),
    city!(
        "Bucharest",
        "Bucuresti",
        "RO",
        44.4268,
        26.1025,
        2,
        &[&[89, 38], &[185, 225]],
        [0, 0],
        9009
    ),
    city!(
        "Frankfurt am Main",
        "Hesse",
        "DE",
        50.1109,
        8.6821,
        1,
        &[&[46, 4], &[5, 9]],
        [0x2a01, 0x04f8],
        24940
    ),
    city!(
        "Amsterdam",
        "North Holland",
        "NL",
        52.3676,
        4.9041,
        1,
        &[&[185, 107], &[146, 70]],
        [0x2a0b, 0xf4c2],
        60781
    ),
    city!(
        "Ashburn",
        "Virginia",
        "US",
        39.0438,
        -77.4874,
        -5,
        &[&[20, 119], &[52, 70], &[4, 156]],
        [0, 0],
        8075
    ),
    city!(
        "Sao Paulo",
        "Sao Paulo",
        "BR",
        -23.5505,
        -46.6333,
        -3,
        &[&[177, 72], &[189, 6]],
        [0, 0],
        28573
    ),
    city!(
        "Lagos",
        "Lagos",
        "NG",
        6.5244,
        3.3792,
        1,
        &[&[102, 89], &[105, 112]],
        [0, 0],
        29465
    ),
    city!(
        "Dallas",
        "Texas",
        "US",
        32.7767,
        -96.7970,
        -6,
        &[&[104, 28], &[45, 79]],
        [0, 0],
        63949
    ),
];

/// Great-circle distance in km.
pub fn distance_km(a: usize, b: usize) -> f64 {
    let (ca, cb) = (&CITIES[a], &CITIES[b]);
    let (la1, lo1) = (ca.lat.to_radians(), ca.lon.to_radians());
    let (la2, lo2) = (cb.lat.to_radians(), cb.lon.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// A client platform: operating system, browser, user agent.
pub struct Device {
    pub os: &'static str,
    pub browser: &'static str,
    pub ua: &'static str,
}

pub static DEVICES: &[Device] = &[
    Device { os: "Windows 10", browser: "Edge 130.0.0", ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0" },
    Device { os: "Windows 10", browser: "Chrome 130.0.0", ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36" },
    Device { os: "Windows 11", browser: "Edge 131.0.0", ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0" },
    Device { os: "MacOs", browser: "Safari 18.1", ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15" },
    Device { os: "MacOs", browser: "Chrome 130.0.0", ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36" },
    Device { os: "Ios 18.1", browser: "Mobile Safari 18.1", ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1" },
    Device { os: "Android 14", browser: "Chrome Mobile 130.0.0", ua: "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.102 Mobile Safari/537.36" },
];

/// Non-browser clients used by token refreshes and desktop apps.
pub static NATIVE_UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; WebView/3.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.26100",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)",
    "Windows-AzureAD-Authentication-Provider/1.0",
    "MSAL.iOS/1.5.9 (iOS 18.1; iPhone15,3) Outlook-iOS/4.2444.0",
    "Teams/24295.605.3225.8804 (Windows NT 10.0; Win64; x64)",
];

/// An Entra application and the resource it signs in to.
#[derive(Clone, Copy)]
pub struct App {
    pub id: &'static str,
    pub name: &'static str,
    pub resource: &'static str,
    pub resource_id: &'static str,
}

pub const APP_OFFICE_HOME: App = App {
    id: "4765445b-32c6-49b0-83e6-1d93765276ca",
    name: "OfficeHome",
    resource: "Office 365 Exchange Online",
    resource_id: "00000002-0000-0ff1-ce00-000000000000",
};
pub const APP_TEAMS: App = App {
    id: "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
    name: "Microsoft Teams",
    resource: "Microsoft Teams Services",
    resource_id: "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe",
};
pub const APP_OUTLOOK: App = App {
    id: "d3590ed6-52b3-4102-aeff-aad2292ab01c",
    name: "Microsoft Office",
    resource: "Office 365 Exchange Online",
    resource_id: "00000002-0000-0ff1-ce00-000000000000",
};
pub const APP_SHAREPOINT: App = App {
    id: "08e18876-6177-487e-b8b5-cf950c1e598c",
    name: "SharePoint Online Web Client Extensibility",
    resource: "Office 365 SharePoint Online",
    resource_id: "00000003-0000-0ff1-ce00-000000000000",
};
pub const APP_PORTAL: App = App {
    id: "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
    name: "Azure Portal",
    resource: "Windows Azure Service Management API",
    resource_id: "797f4846-ba00-4fd7-ba43-dac1f8f63013",
};
pub const APP_AZ_CLI: App = App {
    id: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
    name: "Microsoft Azure CLI",
    resource: "Windows Azure Service Management API",
    resource_id: "797f4846-ba00-4fd7-ba43-dac1f8f63013",
};
pub const APP_STORAGE_EXPLORER: App = App {
    id: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
    name: "Microsoft Azure CLI",
    resource: "Azure Storage",
    resource_id: "e406a681-f3d4-42a8-90b6-c2b029497af1",
};
pub const APP_AAD_POWERSHELL: App = App {
    id: "1b730954-1685-4b74-9bfd-dac224a7b894",
    name: "Azure Active Directory PowerShell",
    resource: "Microsoft Graph",
    resource_id: "00000003-0000-0000-c000-000000000000",
};
pub const APP_EXCHANGE: App = App {
    id: "00000002-0000-0ff1-ce00-000000000000",
    name: "Office 365 Exchange Online",
    resource: "Office 365 Exchange Online",
    resource_id: "00000002-0000-0ff1-ce00-000000000000",
};
pub const APP_BROKER: App = App {
    id: "29d9ed98-a469-4536-ade2-f981bc1d605e",
    name: "Microsoft Authentication Broker",
    resource: "Microsoft Graph",
    resource_id: "00000003-0000-0000-c000-000000000000",
};

/// Apps of ordinary interactive sign-ins, with weights.
pub static INTERACTIVE_APPS: &[(App, u32)] = &[
    (APP_OFFICE_HOME, 30),
    (APP_TEAMS, 25),
    (APP_OUTLOOK, 20),
    (APP_SHAREPOINT, 12),
    (APP_PORTAL, 8),
    (APP_AZ_CLI, 5),
];

/// Apps of non-interactive token refreshes.
pub static REFRESH_APPS: &[(App, u32)] = &[
    (APP_TEAMS, 35),
    (APP_OUTLOOK, 35),
    (APP_BROKER, 20),
    (APP_SHAREPOINT, 10),
];

pub static FIRST_NAMES: &[&str] = &[
    "olivia", "liam", "amelia", "noah", "isla", "oliver", "ava", "george", "mia", "arthur",
    "sofia", "leo", "grace", "harry", "lily", "oscar", "freya", "jack", "emily", "charlie", "ella",
    "theo", "chloe", "james", "sophie", "henry", "priya", "arjun", "mei", "wei", "fatima", "omar",
    "lucas", "elena", "mateo", "hannah", "daniel", "zara", "samuel", "nina", "ethan", "maya",
    "adam", "julia", "david", "laura", "michael", "sara", "kevin", "anna",
];

pub static LAST_NAMES: &[&str] = &[
    "smith", "jones", "taylor", "brown", "williams", "wilson", "johnson", "davies", "patel",
    "wright", "walker", "robinson", "thompson", "white", "hughes", "edwards", "green", "hall",
    "wood", "harris", "lewis", "martin", "jackson", "clarke", "clark", "turner", "hill", "scott",
    "cooper", "morris", "ward", "moore", "king", "watson", "baker", "harrison", "morgan", "young",
    "allen", "mitchell", "kelly", "murphy", "garcia", "nguyen", "chen", "kim", "singh", "khan",
    "rossi", "muller",
];

/// Sign-in error codes used by the generator, with their failure reasons.
pub fn failure_reason(code: u32) -> Option<&'static str> {
    Some(match code {
        0 => return None,
        50126 => "Error validating credentials due to invalid username or password.",
        50074 => "Strong Authentication is required.",
        50140 => "This error occurred due to 'Keep me signed in' interrupt when the user was signing in.",
        500121 => "Authentication failed during strong authentication request.",
        53003 => "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        50173 => "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
        70044 => "The session has expired or is invalid due to sign-in frequency checks by conditional access.",
        50053 => "Account is locked because user tried to sign in too many times with an incorrect user ID or password.",
        _ => "Other.",
    })
}

/// Reconnaissance APIs an `aws-recon-burst` rule is expected to watch (published in the
/// manifest). Benign traffic never calls four distinct ones from one key, IP and user agent
/// within two minutes, except the documented console false positive.
pub static RECON_APIS: &[&str] = &[
    "GetCallerIdentity",
    "ListAttachedUserPolicies",
    "ListGroupsForUser",
    "ListBuckets",
    "DescribeInstances",
    "ListUsers",
    "ListRoles",
    "ListAccessKeys",
    "GetAccountAuthorizationDetails",
    "ListAttachedRolePolicies",
    "ListUserPolicies",
    "ListPolicies",
    "GetUser",
    "DescribeRegions",
    "DescribeSecurityGroups",
    "DescribeVpcs",
    "DescribeSubnets",
    "DescribeVolumes",
    "DescribeSnapshots",
    "DescribeImages",
    "DescribeKeyPairs",
    "DescribeDBInstances",
    "ListFunctions",
    "ListSecrets",
    "DescribeTrails",
];

/// EC2 console page loads: the Describe* calls the console makes (UA `console.ec2.amazonaws.com`).
pub static EC2_CONSOLE_CALLS: &[&str] = &[
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeSecurityGroups",
    "DescribeVolumes",
    "DescribeVpcs",
    "DescribeSubnets",
    "DescribeAddresses",
    "DescribeKeyPairs",
    "DescribeSnapshots",
    "DescribeImages",
    "DescribeRegions",
    "DescribeInstanceTypes",
    "DescribeTags",
    "DescribeNetworkInterfaces",
    "DescribeAvailabilityZones",
    "DescribeLaunchTemplates",
    "DescribeAccountAttributes",
];

pub const AWS_CLI_UA: &str =
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-azure exe/x86_64.ubuntu.22 prompt/off";
pub const ATTACKER_CLI_UA: &str =
    "aws-cli/2.13.25 Python/3.11.5 Linux/6.2.0-37-generic exe/x86_64.kali.2023 prompt/off";
pub const CONSOLE_EC2_UA: &str = "console.ec2.amazonaws.com";
pub const CONSOLE_S3_UA: &str = "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750 Linux/5.10.226-192.879.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.412-b09 java/1.8.0_412 vendor/Oracle_Corporation cfg/retry-mode/standard]";
pub const SDK_GO_UA: &str =
    "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ecr#1.30.3";
pub const SDK_JS_UA: &str =
    "aws-sdk-nodejs/2.1692.0 linux/v20.18.0 configure-aws-credentials-for-github-actions promise";
pub const SDK_JAVA_UA: &str = "aws-sdk-java/2.25.60 Linux/5.10.227-219.884.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.12+7-LTS Java/17.0.12 vendor/Amazon.com_Inc. md/internal exec-env/AWS_ECS_EC2 io/sync http/Apache cfg/retry-mode/legacy";
pub const BOTO3_UA: &str = "Boto3/1.35.54 md/Botocore#1.35.54 ua/2.0 os/linux#6.1.112-124.190.amzn2023.x86_64 md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.54";
