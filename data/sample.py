"""Realistic customer records, generated deterministically from a seed.

Used by ``manage.py demo`` (a few hundred), by the tests and by ``make bench`` (a million,
streamed).  Names come from many scripts and places; some addresses span several lines
and contain commas and quotes, as real ones do.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator

FIRST = [
    "Anna",
    "Ben",
    "Chloé",
    "David",
    "Élodie",
    "Farid",
    "Greta",
    "Hiro",
    "Isabel",
    "Jonas",
    "Kenji",
    "Lena",
    "Mateo",
    "Nadia",
    "Olivia",
    "Paweł",
    "Quentin",
    "Rosa",
    "Søren",
    "Taro",
    "Ülkü",
    "Valentina",
    "Wei",
    "Xiomara",
    "Yuki",
    "Zoë",
    "Åsa",
    "José",
    "Björn",
    "Siobhán",
    "Aiko",
    "Chen",
    "Fatima",
    "Ivan",
    "Liam",
    "María",
    "Noah",
    "Priya",
    "Sakura",
    "Tomás",
    "Ольга",
    "Дмитрий",
    "李",
    "王",
    "さくら",
    "健太",
    "Αλέξανδρος",
    "Ελένη",
    "محمد",
    "Zeynep",
]
LAST = [
    "Nakamura",
    "Müller",
    "García",
    "Smith",
    "Dubois",
    "Rossi",
    "Kowalski",
    "Johansson",
    "O'Brien",
    "Tanaka",
    "Suzuki",
    "Lefèvre",
    "Fernández",
    "Novák",
    "Nguyen",
    "Kim",
    "Patel",
    "Schröder",
    "Öztürk",
    "Andersen",
    "Van der Berg",
    "Silva",
    "Costa",
    "Yamamoto",
    "Brown",
    "Wilson",
    "Martin",
    "Bernard",
    "Ivanova",
    "Petrov",
    "Jensen",
    "Hansen",
    "Łukasz",
    "Zhang",
    "Liu",
    "Sato",
    "Watanabe",
    "Ito",
    "Kobayashi",
    "López",
    "González",
    "Hernández",
    "Иванов",
    "Смирнова",
    "中村",
    "佐藤",
    "Παπαδόπουλος",
    "الحسن",
    "Nakamura-Smith",
    "Dąbrowski",
]
COMPANY = [
    "Trading",
    "Supplies",
    "Logistics",
    "Foods",
    "Hardware",
    "Textiles",
    "Motors",
    "Garden",
    "Electronics",
    "Pharma",
    "Books",
    "Coffee",
    "Bakery",
    "Optics",
    "Furniture",
]
STREETS = [
    ("Hauptstraße", "Berlin", "10115", "Germany"),
    ("Rue de Rivoli", "Paris", "75001", "France"),
    ("Calle Mayor", "Madrid", "28013", "Spain"),
    ("Main Street", "Springfield", "62701", "USA"),
    ("Baker Street", "London", "NW1 6XE", "United Kingdom"),
    ("Via Roma", "Milano", "20121", "Italy"),
    ("Ginza 4-chome", "Tokyo", "104-0061", "Japan"),
    ("ul. Marszałkowska", "Warszawa", "00-624", "Poland"),
    ("Drottninggatan", "Stockholm", "111 51", "Sweden"),
    ("Rua Augusta", "Lisboa", "1100-053", "Portugal"),
    ("Nguyễn Huệ", "Hồ Chí Minh", "700000", "Vietnam"),
    ("Тверская улица", "Москва", "125009", "Russia"),
]
DOMAINS = [
    "example.com",
    "example.org",
    "mail.example.net",
    "shop.example.co.uk",
    "example.de",
    "example.fr",
    "example.jp",
    "corp.example.com",
]
ASCII_EXTRA = str.maketrans({"ß": "ss", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ı": "i"})


def _ascii_part(text: str, fallback: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(ASCII_EXTRA)).lower()
    kept = "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch in "-"))
    return kept or fallback


def customer(index: int, rng: random.Random) -> dict[str, str | None]:
    """One customer; ``index`` makes the email unique within a generated set."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    company = rng.random() < 0.15
    name = f"{last} {rng.choice(COMPANY)}" if company else f"{first} {last}"
    local = f"{_ascii_part(first, 'c')}.{_ascii_part(last, 'x')}{index}"
    email = f"{local}@{rng.choice(DOMAINS)}"
    if rng.random() < 0.1:
        email = email.capitalize()  # as typed by people: case is kept, uniqueness ignores it
    phone: str | None = None
    if rng.random() < 0.85:
        phone = f"+{rng.randint(1, 89)} {rng.randint(100, 999)} {rng.randint(100000, 9999999)}"
    address: str | None = None
    roll = rng.random()
    street, city, postcode, country = rng.choice(STREETS)
    number = rng.randint(1, 250)
    if roll < 0.55:
        address = f"{street} {number}, {postcode} {city}, {country}"
    elif roll < 0.8:
        floor = rng.randint(1, 9)
        lines = [
            f'c/o "{last} {rng.choice(COMPANY)}"',
            f"{street} {number}, floor {floor}",
            f"{postcode} {city}",
            country,
        ]
        address = "\n".join(lines)
    return {"name": name, "email": email, "phone": phone, "address": address}


def customers(count: int, seed: int = 42, start: int = 0) -> Iterator[dict[str, str | None]]:
    """``count`` customers, the same ones for the same seed."""
    rng = random.Random(seed)
    for index in range(start, start + count):
        yield customer(index, rng)
