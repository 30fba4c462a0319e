"""A labelled set for personal-data redaction, built from a seed: texts with the spans that must be masked.

Positives are written the many ways people write them (separators, brackets, JSON, escaped JSON); negatives
are what a ledger is full of and must survive: near misses (a card or IBAN with a wrong check digit), ids,
versions, dates, times, prices, token counts, code. `python -m tests.pii_corpus` prints precision and recall.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from shared.ingest.pii_patterns import PII_KINDS, iban_valid, luhn_valid
from shared.ingest.redaction import find_redactions


@dataclass(frozen=True)
class Sample:
    text: str
    spans: tuple[tuple[str, str], ...]  # (kind, value) that must be masked; empty for a negative


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


def _iban(country: str, length: int, rng: random.Random) -> str:
    bban = "".join(rng.choice("0123456789") for _ in range(length - 4))
    check = 98 - int("".join(str(int(ch, 36)) for ch in bban + country + "00")) % 97
    return f"{country}{check:02d}{bban}"


def _grouped(value: str, size: int = 4, sep: str = " ") -> str:
    return sep.join(value[i : i + size] for i in range(0, len(value), size))


FIRST = ("ana", "bo", "chen.li", "d.okafor", "eva-marie", "f_rossi", "guillaume", "hana+ledger", "ivan99", "j")
DOMAINS = ("contoso.com", "fabrikam.co.uk", "mail.example.org", "uni-heidelberg.de", "northwind.io")
TEMPLATES = (
    "Please contact {} about the invoice.",
    "{}",
    "cc: {}; thanks",
    '{{"to": "{}"}}',
    "Reach me at <{}>.",
    "Name: Ana\\nPhone: {}\\n",
    "({}) is the one",
    "value={}&next=1",
)


def build(seed: int = 13, per_kind: int = 60) -> list[Sample]:
    rng = random.Random(seed)
    positives: list[tuple[str, str]] = []
    for _ in range(per_kind):
        positives.append(("email", f"{rng.choice(FIRST)}@{rng.choice(DOMAINS)}"))
        positives.append(
            (
                "phone",
                rng.choice(
                    (
                        f"+1 {rng.randint(201, 989)} {rng.randint(200, 999)} {rng.randint(1000, 9999)}",
                        f"+44 20 {rng.randint(7000, 7999)} {rng.randint(1000, 9999)}",
                        f"+49 30 {rng.randint(100000, 999999)}{rng.randint(10, 99)}",
                        f"+33{rng.randint(600000000, 799999999)}",
                        f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
                        f"{rng.randint(201, 989)}-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
                        f"0{rng.randint(6, 7)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
                        f"020 {rng.randint(7000, 7999)} {rng.randint(1000, 9999)}",
                    )
                ),
            )
        )
        card = rng.choice(
            (
                _luhn_complete("4", 16, rng),
                _luhn_complete("5" + str(rng.randint(1, 5)), 16, rng),
                _luhn_complete("3" + rng.choice("47"), 15, rng),
                _luhn_complete("6011", 16, rng),
            )
        )
        positives.append(("card", rng.choice((card, _grouped(card), _grouped(card, sep="-")))))
        iban = rng.choice(
            (
                _iban("DE", 22, rng),
                _iban("FR", 27, rng),
                _iban("GB", 22, rng).replace("GB", "GB", 1),
                _iban("NL", 18, rng),
                _iban("ES", 24, rng),
            )
        )
        positives.append(("iban", rng.choice((iban, _grouped(iban)))))
        positives.append(
            (
                "ip",
                rng.choice(
                    (
                        f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                        f"2001:db8:{rng.randint(0, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}",
                        f"fe80::{rng.randint(0, 0xFFFF):x}:{rng.randint(0, 0xFFFF):x}:{rng.randint(0, 0xFFFF):x}:{rng.randint(1, 0xFFFF):x}",
                    )
                ),
            )
        )
    samples = [Sample(rng.choice(TEMPLATES).format(value), ((kind, value),)) for kind, value in positives]
    samples += [Sample(text, ()) for text in negatives(rng, per_kind)]
    samples += hard_cases(rng, max(1, per_kind // 6))
    rng.shuffle(samples)
    return samples


def negatives(rng: random.Random, count: int) -> list[str]:
    texts = [
        "lodash@4.17.21 and @here, ping @ana in #general",
        "decorate with @dataclass(frozen=True)",
        "std::vector<int> v; a::b::c",
        "meeting at 10:30:00 on 2026-05-01T10:30:00Z",
        "version 10.0.19041.1 and 1.2.3",
        "chatcmpl-9XyZ12345 request 5f1c0d2e-7a3b-4c5d-8e9f-0a1b2c3d4e5f",
        "total 1,234,567 tokens for $12,345.67",
        "ISBN 978-3-16-148410-0",
        "date 01.02.2024 and 31/12/2025",
        "aspect ratio 16:9, score 3:2",
        "MAC 00:1a:2b:3c:4d:5e",
        "user@localhost and root@server",
        "see RFC 5321 section 4.1.2",
    ]
    for _ in range(count):
        card = _luhn_complete("4", 16, rng)
        wrong = card[:-1] + str((int(card[-1]) + rng.randint(1, 9)) % 10)  # fails the Luhn check
        iban = _iban("DE", 22, rng)
        bad_iban = iban[:2] + f"{(int(iban[2:4]) + rng.randint(1, 50)) % 97:02d}" + iban[4:]
        texts += [
            f"order {wrong} shipped",
            f"account {bad_iban} rejected" if not iban_valid(bad_iban) else "account none",
            f"epoch ms {rng.randint(1_600_000_000_000, 1_799_999_999_999)}",
            f"{rng.randint(100, 99999)} prompt tokens, {rng.randint(100, 9999)} completion tokens",
            f"build {rng.randint(1, 20)}.{rng.randint(0, 99)}.{rng.randint(0, 9999)}",
            f"trace {rng.getrandbits(128):032x}",
            f"price {rng.randint(1, 999)}.{rng.randint(0, 99):02d} USD",
            f"at {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
            f"id {rng.randint(10**8, 10**9)}",
            f"v{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}",
        ]
    return texts


def hard_cases(rng: random.Random, count: int) -> list[Sample]:
    """Cases the patterns are known to get wrong, kept in the set so the figures are not flattering: phone
    numbers without any separator, dotted international numbers, internationalised domains (misses); a
    four-part version, an order number that happens to pass Luhn, an SSH remote (false positives)."""
    samples = []
    for _ in range(count):
        plain = f"{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(1000, 9999)}"
        dotted = f"+1.{rng.randint(201, 989)}.{rng.randint(200, 999)}.{rng.randint(1000, 9999)}"
        samples += [
            Sample(f"call {plain} today", (("phone", plain),)),
            Sample(f"call {dotted} today", (("phone", dotted),)),
            Sample("write to ana@bücher.de", (("email", "ana@bücher.de"),)),
            Sample(f"version {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}", ()),
            Sample(f"order {_luhn_complete('4', 16, rng)}", ()),
            Sample("git clone git@github.com:contoso/ledger.git", ()),
        ]
    return samples


def score(samples: list[Sample]) -> dict[str, dict[str, float]]:
    """Per kind and overall: true positives, false positives, false negatives, precision, recall (value level)."""
    tally: dict[str, list[int]] = {}
    for sample in samples:
        found = {
            (kind, sample.text[start:end])
            for kind, start, end in find_redactions(sample.text, "pii")
            if kind in PII_KINDS
        }  # secrets (a 32-hex trace id is masked as a key) are scored elsewhere
        expected = set(sample.spans)
        for kind, value in found | expected:
            counts = tally.setdefault(kind, [0, 0, 0])
            if (kind, value) in found and (kind, value) in expected:
                counts[0] += 1
            elif (kind, value) in found:
                counts[1] += 1
            else:
                counts[2] += 1
    tally["all"] = [sum(c[i] for c in tally.values()) for i in range(3)]
    return {
        kind: {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0,
        }
        for kind, (tp, fp, fn) in sorted(tally.items())
    }


if __name__ == "__main__":
    samples = build()
    print(f"{len(samples)} texts, {sum(bool(s.spans) for s in samples)} with personal data")
    for kind, figures in score(samples).items():
        print(
            f"{kind:6} precision {figures['precision']:.3f} recall {figures['recall']:.3f} "
            f"(tp {figures['tp']}, fp {figures['fp']}, fn {figures['fn']})"
        )
