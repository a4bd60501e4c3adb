#!/usr/bin/env python3
"""Generates corpus.tsv, the labelled detector corpus (see corpus_test.go).

Run from this directory: python3 corpus_gen.py > corpus.tsv
The seed is fixed so the file is reproducible. Values are random within
their format (cards Luhn-valid, IBANs with computed check digits); hard
negatives are random too, never filtered against the detectors.
"""
import random

rnd = random.Random(20240611)
rows = []


def add(label, text):
    assert "\t" not in text and "\n" not in text, text
    rows.append((label, text))


def luhn_complete(prefix, length):
    digits = [int(c) for c in prefix]
    while len(digits) < length - 1:
        digits.append(rnd.randrange(10))
    for check in range(10):
        d = digits + [check]
        s = 0
        for i, v in enumerate(reversed(d)):
            if i % 2 == 1:
                v *= 2
                if v > 9:
                    v -= 9
            s += v
        if s % 10 == 0:
            return "".join(map(str, d))


def luhn_ok(num):
    s = 0
    for i, c in enumerate(reversed(num)):
        v = int(c)
        if i % 2 == 1:
            v *= 2
            if v > 9:
                v -= 9
        s += v
    return s % 10 == 0


def group(num, sizes, sep):
    out, i = [], 0
    for n in sizes:
        out.append(num[i:i + n])
        i += n
    if i < len(num):
        out.append(num[i:])
    return sep.join(x for x in out if x)


# ---------------------------------------------------------------- credit_card
networks = [("4", 16), ("4", 13), ("4", 19), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16),
            ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("644", 16), ("3528", 16), ("3589", 16),
            ("36", 14), ("300", 14), ("62", 16), ("62", 19), ("6759", 16), ("5018", 18)]
card_templates = [
    "card number {} exp 04/27", "Paid with {}", "cc={}&amount=12.00", '{{"card": "{}", "cvv": "***"}}',
    "card:{}.", "Customer read out {} over the phone", "[{}]", "refund to {} requested",
    "{}", "visa {} cardholder J DOE",
]
for k, (prefix, length) in enumerate(networks * 2):
    num = luhn_complete(prefix, length)
    if length == 15:
        text = group(num, [4, 6, 5], rnd.choice([" ", "-"]))
    elif length == 14:
        text = group(num, [4, 6, 4], " ")
    else:
        fmt = k % 4
        text = num if fmt == 0 else group(num, [4, 4, 4, 4], [" ", "-", " ", "."][fmt])
    add("credit_card", card_templates[k % len(card_templates)].format(text))

# Well-known test numbers in the shapes people paste.
for t in ["4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005", "6011 0009 9013 9424",
          "3530111333300000", "4012888888881881", "5105105105105100", "2223003122003222"]:
    add("credit_card", "test card " + t + " declined")

# ---------------------------------------------------------------- iban
iban_len = {"DE": 22, "GB": 22, "FR": 27, "ES": 24, "IT": 27, "NL": 18, "BE": 16, "CH": 21, "AT": 20,
            "PL": 28, "SE": 24, "NO": 15, "DK": 18, "FI": 18, "IE": 22, "PT": 25, "LU": 20, "CZ": 24,
            "RO": 24, "SA": 24, "TR": 26, "BR": 29, "MT": 31, "HU": 28}


def iban_checked(cc, bban):
    s = bban + cc + "00"
    n = int("".join(str(int(c, 36)) for c in s))
    return cc + "%02d" % (98 - n % 97) + bban


def bban_for(cc, n):
    out = []
    for i in range(n):
        if cc in ("GB", "NL", "IE", "MT") and i < 4:
            out.append(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        else:
            out.append(str(rnd.randrange(10)))
    return "".join(out)


iban_templates = ["IBAN: {}", "Please transfer to {} by Friday", "iban={}", '{{"iban":"{}"}}',
                  "account {} (main)", "{}", "Bankverbindung {} BIC COBADEFFXXX", "beneficiary IBAN {}."]
ibans = []
for k, (cc, n) in enumerate(list(iban_len.items()) + list(iban_len.items())[:8]):
    ib = iban_checked(cc, bban_for(cc, n - 4))
    ibans.append(ib)
    text = ib if k % 3 == 0 else " ".join(ib[i:i + 4] for i in range(0, len(ib), 4))
    if k % 7 == 5:
        text = text.lower()
    add("iban", iban_templates[k % len(iban_templates)].format(text))
add("iban", "GB82 WEST 1234 5698 7654 32")
add("iban", "DE89 3704 0044 0532 0130 00")

# ---------------------------------------------------------------- email
users = ["alice", "bob.smith", "j.doe+newsletter", "MARY_O", "x", "first.last-2", "o'brien", "u123"]
domains = ["example.com", "mail.example.org", "corp.example.co.uk", "EXAMPLE.NET", "sub.domain.io",
           "xn--bcher-kva.example", "example.museum"]
email_templates = ["Contact {} for details", "<{}>", "mailto:{}", '{{"email":"{}"}}', "From: Alice <{}>",
                   "{}", "cc: {}; bcc: none", "send it to {}."]
for k in range(32):
    e = users[k % len(users)] + "@" + domains[k % len(domains)]
    add("email", email_templates[k % len(email_templates)].format(e))
add("email", "写信给bob@example.com谢谢")
add("email", "reach josé@exämple.de soon")

# ---------------------------------------------------------------- phone
phone_texts = [
    "+1 415 555 2671", "+14155552671", "+44 20 7946 0958", "+44 (0)20 7946 0958", "+49 30 12345678",
    "+33 1 23 45 67 89", "+81 3-1234-5678", "+61 2 9876 5432", "(415) 555-2671", "415-555-2671",
    "415.555.2671", "1-800-555-0199", "020 7946 0958", "07700 900123", "030 12345678", "06 12 34 56 78",
    "030/1234567", "(030) 1234567", "0049 30 1234567", "+353 1 234 5678",
]
phone_templates = ["Call me at {}", "phone: {}", "{}", "tel {} (office)", "Mobile {}.", '{{"phone": "{}"}}']
for k, p in enumerate(phone_texts):
    add("phone", phone_templates[k % len(phone_templates)].format(p))
for p in ["4155552671", "07700900123", "612345678", "0612345678", "5552671234"]:
    add("phone", "Tel: " + p)
for p in ["+1-212-555-0147", "+31 20 123 4567", "+34 612 34 56 78", "+46 8 123 456 78", "212 555 0147"]:
    add("phone", "Reach the office on " + p + " after 9am")

# ---------------------------------------------------------------- ssn
def ssn():
    while True:
        a = rnd.randrange(1, 900)
        if a != 666:
            return "%03d-%02d-%04d" % (a, rnd.randrange(1, 100), rnd.randrange(1, 10000))


ssn_templates = ["SSN {}", "ssn: {}", "{}", "Social Security Number {} on file", '{{"ssn":"{}"}}',
                 "born 1985 {}", "tax id {}."]
for k in range(21):
    v = ssn()
    if k % 5 == 3:
        v = v.replace("-", " ")
    add("ssn", ssn_templates[k % len(ssn_templates)].format(v))
for k in range(5):
    add("ssn", ["SSN: {}", "ssn#{}", "social security no. {}", "SSN={}", "SSN {}"][k].format(ssn().replace("-", "")))

# ---------------------------------------------------------------- ip
ip_texts = ["10.0.0.1", "192.168.1.254", "8.8.8.8", "172.16.254.1:5432", "10.0.0.0/8", "http://203.0.113.7/admin",
            "0.0.0.0", "255.255.255.255", "2001:db8:85a3::8a2e:370:7334", "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            "fe80::1%eth0", "::1", "::ffff:192.0.2.128", "[2001:db8::1]:8080", "1.2.3.4"]
ip_templates = ["client {} connected", "from {}", "{}", "ip={}", '{{"remote_addr":"{}"}}']
for k, v in enumerate(ip_texts):
    add("ip", ip_templates[k % len(ip_templates)].format(v))
for v in ["Failed password for root from 198.51.100.23 port 22", "X-Forwarded-For: 203.0.113.195, 70.41.3.18",
          "peer 2606:4700:4700::1111 unreachable", "listen 127.0.0.1:8080", "gateway 192.0.2.1."]:
    add("ip", v)

# ---------------------------------------------------------------- secret
def rs(alphabet, n):
    return "".join(rnd.choice(alphabet) for _ in range(n))


A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
AN = A + A.lower() + "0123456789"
secrets = [
    "aws_access_key_id = AKIA" + rs(A + "234567", 16),
    "ASIA" + rs(A + "0123456789", 16),
    "token: ghp_" + rs(AN, 36),
    "GITHUB_TOKEN=gho_" + rs(AN, 36),
    "github_pat_" + rs(AN, 22) + "_" + rs(AN, 59),
    "ghs_" + rs(AN, 36) + " used in CI",
    "glpat-" + rs(AN + "-_", 20),
    "SLACK_BOT_TOKEN=xoxb-" + rs("0123456789", 11) + "-" + rs("0123456789", 12) + "-" + rs(AN, 24),
    "xoxp-" + rs("0123456789", 10) + "-" + rs(AN, 20),
    "stripe key sk_live_" + rs(AN, 24),
    "rk_live_" + rs(AN, 30),
    'const key = "sk_test_' + rs(AN, 24) + '"',
    "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZ2VudCJ9.",
    "jwt=eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lzc3VlciJ9.c2lnbmF0dXJlLWJ5dGVz",
    "-----BEGIN RSA PRIVATE KEY-----MIIEowIBAAKCAQEA" + rs(AN, 40) + "-----END RSA PRIVATE KEY-----",
    "key: -----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA\\n-----END OPENSSH PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY----- MIIEvQIBADANBgkqhkiG9w0BAQEFAASC (truncated)",
    "-----BEGIN EC PRIVATE KEY-----MHcCAQEEI" + rs(AN, 30) + "-----END EC PRIVATE KEY-----",
    "postgres://app:s3cr3t-P4ss@db.internal:5432/prod",
    "DATABASE_URL=mysql://root:hunter2@db.internal/app",
    "redis://:verysecret@cache:6379/0",
    "amqp://guest:guest@rabbit/",
    "https://deploy:ghx9Q2@git.example.com/org/repo.git",
    "mongodb+srv://user:P%40ss@cluster0.example.net/db",
    "AKIA" + rs(A + "0123456789", 16) + ",",
    '{"token":"glpat-' + rs(AN, 26) + '"}',
    "ghr_" + rs(AN, 36),
    "ghu_" + rs(AN, 40),
    "xoxa-2-" + rs(AN, 30),
]
for s in secrets:
    add("secret", s)

# ---------------------------------------------------------------- hard negatives
neg = []
# Order numbers, invoice and tracking ids.
for _ in range(8):
    neg.append("Order #%d shipped" % rnd.randrange(100000, 99999999))
for _ in range(4):
    neg.append("ORD-%d-%06d" % (rnd.randrange(2019, 2026), rnd.randrange(1000000)))
neg += ["Invoice INV-2024-00123 due", "PO 4500012345 approved", "tracking 1Z999AA10123456784",
        "SO-58213 closed", "ticket JIRA-12345", "case 00012345 reopened"]
# UUIDs.
for _ in range(6):
    h = "".join(rnd.choice("0123456789abcdef") for _ in range(32))
    neg.append("id %s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:]))
neg.append("request 12345678-1234-5678-1234-567812345678 done")
# Timestamps and dates.
neg += ["2024-01-15T10:30:00Z", "2024-01-15 10:30:00.123456+00", "created_at 1700000000", "ts=1700000000123",
        "1700000000123456 ns", "15/01/2024", "01.02.2024 12:30", "Jan 15, 2024 at 10:30 AM",
        "2024-01-15T10:30:00+05:30", "Mon, 15 Jan 2024 10:30:00 GMT", "12:30:45", "20240115103000",
        "1999-12-31", "31.12.1999 23:59:59"]
# Version strings.
neg += ["version 1.2.3.4", "v1.2.3.4", "v10.0.0.1", "release 4.19.0.1 notes", "Chrome/120.0.6099.109",
        "Mozilla/5.0 (X11) Chrome/120.0.0.0 Safari/537.36", "firmware: 2.0.0.15", "pkg-1.2.3.4.tar.gz",
        "go1.26.8", "1.3.6.1.4.1.311", "build 10.0.19045.3803", "kernel 5.15.0.91", "semver 2.0.0-rc.1",
        "node v18.19.0", "lodash@4.17.21", "react@18.2.0"]
# Hashes and digests.
for n in (32, 40, 40, 64, 64, 128):
    neg.append("sha %s" % "".join(rnd.choice("0123456789abcdef") for _ in range(n)))
neg += ["commit 4f2a9c1", "git checkout a1b2c3d4e5f6", "etag W/\"5e8f1a2b3c\"",
        "digest sha256:" + "".join(rnd.choice("0123456789abcdef") for _ in range(64))]
# Luhn-invalid 16-digit numbers in card shapes.
k = 0
while k < 10:
    num = "4" + "".join(str(rnd.randrange(10)) for _ in range(15))
    if luhn_ok(num):
        continue
    neg.append(["ref %s", "card %s", "%s"][k % 3] % (num if k % 2 else group(num, [4, 4, 4, 4], " ")))
    k += 1
# Random 16-digit numbers starting with non-network digits (1, 7, 8, 9).
for d in "1789":
    neg.append("account %s%s" % (d, "".join(str(rnd.randrange(10)) for _ in range(15))))
# IBAN-shaped with bad checksums or lengths.
for ib in ibans[:8]:
    bad = ib[:2] + ("%02d" % ((int(ib[2:4]) + 1) % 97 + 2)) + ib[4:]
    neg.append("IBAN " + bad)
neg += ["DE89 3704 0044 0532 0130 01", "DE89370400440532013", "XX89370400440532013000", "GB82WEST123456987654"]
# SSNs in excluded ranges.
neg += ["000-12-3456", "666-12-3456", "900-12-3456", "987-65-4321", "123-00-4567", "123-45-0000",
        "SSN 000-00-0000", "ssn: 666123456"]
# Phone-like numbers that aren't.
neg += ["ISBN 978-3-16-148410-0", "ISBN 0-306-40615-2", "lot 12-3456-789", "Qty 1 2 3 4 5",
        "price 1,234,567.89", "zip 94103-1234", "part 555-01", "score 12-10", "room 0.5 m2", "PIN 1234",
        "temp -12.5 C", "coords 51.5074, -0.1278", "1 + 1 = 2", "UTC+05:30", "the year 2024 had 366 days"]
# Email-shaped things that aren't addresses.
neg += ["root@localhost", "user@localhost is local", "git@github.com:org/repo.git", "logo@2x.png",
        "icon@3x.jpg", "@types/node", "@Override", "image@sha256:abcd", "ssh deploy@10", "a @ b.com"]
# Base64 blobs and JWT-like strings that aren't tokens.
neg += ["dGhpcyBpcyBub3QgYSBqd3Q.YWxzbyBub3Q.c2lnbmF0dXJl", "eyJub3QiOiJqd3QifQ.eyJ4IjoxfQ.c2ln",
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
        "SGVsbG8sIFdvcmxkIQ==", "eyes.open.wide"]
# Secret-shaped strings that aren't secrets.
neg += ["AKIA is the prefix of AWS keys", "ghp_short", "sk_live_", "xoxb-", "https://example.com/path",
        "postgres://db.internal:5432/prod", "postgres://user@db/prod", "-----BEGIN CERTIFICATE-----MIIB",
        "-----BEGIN PUBLIC KEY-----MFkw", "password: ********", "https://user:****@host/x",
        "glpat-tooshort"]
# IP-like strings that aren't addresses.
neg += ["256.1.1.1", "1.2.3", "01.02.03.04", "1.2.3.4.5", "MAC 00:1a:2b:3c:4d:5e", "std::vector<int>",
        "a::b", "10:30:00", "192.168.1", "3.14159"]
# Plain text and numbers.
neg += ["The quick brown fox jumps over the lazy dog", "SELECT * FROM customers WHERE id = 42",
        "total 1234567", "population 8045311447", "pi 3.14159265358979323846", "e 2.718281828459045",
        "balance 4111.11", "0.4111111111111111", "ratio 1.4111111111111111e-05", "null", "",
        "user_id 7734", "Room 101, Floor 3", "Q3 revenue up 12%", "Call 911", "id=42&page=2"]
for t in neg:
    add("none", t)

print("# label<TAB>text: the detector expected to fire on the text, or none. Generated by corpus_gen.py (fixed seed).")
for label, text in rows:
    print(label + "\t" + text)
