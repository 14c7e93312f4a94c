"""Fake but plausible identities: names, NHS numbers, UPNs, phones and emails.

Everything here is sampled in bulk with numpy (no per-person Python loops) and
is designed never to collide with real people's identifiers:

- NHS numbers are drawn from the ``999`` range that NHS England keeps for test
  data, each with a valid modulus-11 check digit.
- Phone numbers come from Ofcom's ranges reserved for drama (e.g.
  ``01632 960xxx``, ``0161 496 0xxx``, ``07700 900xxx``).
- Email domains end in ``.example``, a top-level domain reserved by RFC 2606.
- UPNs follow the DfE format (check letter, LA number, establishment number,
  year, serial) with LA number ``999``, which no English LA uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "ORIGIN_OF_ETHNICITY",
    "nhs_check_digit",
    "sample_forenames",
    "sample_surnames",
    "sample_origins",
    "fake_nhs_numbers",
    "fake_upns",
    "upn_check_letter",
    "drama_phone_numbers",
    "email_addresses",
]

_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "british": {
        "F": (
            "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Sophia", "Grace",
            "Freya", "Emily", "Poppy", "Evie", "Ella", "Charlotte", "Florence", "Sienna",
            "Ruby", "Daisy", "Alice", "Jessica", "Chloe", "Sophie", "Lucy", "Holly", "Megan",
            "Hannah", "Lauren", "Rebecca", "Sarah", "Emma", "Laura", "Gemma", "Kelly",
            "Nicola", "Claire", "Donna", "Lisa", "Michelle", "Joanne", "Amy", "Stacey",
            "Leanne", "Kirsty", "Natalie", "Danielle", "Jade", "Zoe", "Karen", "Tracey",
        ),
        "M": (
            "Oliver", "George", "Noah", "Arthur", "Harry", "Leo", "Jack", "Charlie", "Oscar",
            "Jacob", "Thomas", "Alfie", "Freddie", "Archie", "Henry", "Joshua", "James",
            "William", "Daniel", "Ryan", "Liam", "Jordan", "Callum", "Connor", "Lewis", "Kyle",
            "Jamie", "Dean", "Lee", "Craig", "Mark", "Paul", "Darren", "Wayne", "Stephen",
            "Andrew", "David", "Michael", "Christopher", "Matthew", "Ben", "Sam", "Luke",
            "Tyler", "Reece", "Kieran", "Aaron", "Shane", "Gary", "Neil",
        ),
        "S": (
            "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
            "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
            "Hall", "Wood", "Jackson", "Clarke", "Harris", "Lewis", "Turner", "Scott",
            "Cooper", "Morris", "Ward", "Moore", "King", "Watson", "Baker", "Harrison",
            "Morgan", "Young", "Allen", "Mitchell", "Anderson", "Marshall", "Kelly", "Price",
            "Bennett", "Hughes", "Edwards", "Parker", "Shaw", "Cook", "Richardson", "Bailey",
            "Carter", "Phillips", "Atkinson", "Holmes", "Fletcher", "Barker", "Dawson",
            "Lloyd", "Pearson", "Murphy", "O'Brien", "Gallagher", "Doyle", "McDonald",
            "Fraser", "Hartley", "Whitworth", "Lomax", "Brierley", "Ashworth",
        ),
    },
    "eastern_european": {
        "F": (
            "Zofia", "Julia", "Maja", "Zuzanna", "Hanna", "Lena", "Alicja", "Natalia",
            "Oliwia", "Wiktoria", "Agnieszka", "Katarzyna", "Magdalena", "Anna", "Ewa",
            "Monika", "Ioana", "Elena", "Andreea", "Daria",
        ),
        "M": (
            "Jakub", "Antoni", "Szymon", "Jan", "Filip", "Kacper", "Mateusz", "Piotr",
            "Tomasz", "Krzysztof", "Marek", "Pawel", "Andrei", "Mihai", "Bogdan", "Lukas",
            "Dawid", "Adrian", "Marcin", "Michal",
        ),
        "S": (
            "Nowak", "Kowalski", "Wisniewski", "Wojcik", "Kaminski", "Lewandowski",
            "Zielinski", "Szymanski", "Dabrowski", "Kozlowski", "Popescu", "Ionescu", "Popa",
            "Radu", "Petrov", "Kazlauskas", "Jankowski", "Mazur", "Krawczyk", "Grabowski",
        ),
    },
    "south_asian": {
        "F": (
            "Aisha", "Fatima", "Maryam", "Zara", "Hafsa", "Amira", "Inaaya", "Safa", "Noor",
            "Ayesha", "Priya", "Anika", "Simran", "Jasmine", "Sana", "Nadia", "Rukhsana",
            "Shazia", "Samina", "Nazia", "Riya", "Kiran", "Harleen", "Manpreet",
        ),
        "M": (
            "Muhammad", "Mohammed", "Ibrahim", "Yusuf", "Ali", "Hamza", "Zayn", "Ayaan",
            "Rayyan", "Aryan", "Arjun", "Rohan", "Imran", "Asif", "Tariq", "Bilal", "Adil",
            "Sajid", "Naveed", "Harjit", "Gurpreet", "Vikram", "Sanjay", "Rahul",
        ),
        "S": (
            "Khan", "Hussain", "Ahmed", "Ali", "Begum", "Akhtar", "Rahman", "Mahmood",
            "Iqbal", "Shah", "Patel", "Singh", "Kaur", "Sharma", "Mistry", "Chowdhury",
            "Islam", "Miah", "Uddin", "Malik", "Butt", "Qureshi", "Gill", "Sandhu",
        ),
    },
    "east_asian": {
        "F": ("Mei", "Yan", "Ling", "Hui", "Jing", "Xiaoling", "Wen", "Yu", "Lan", "Ying"),
        "M": ("Wei", "Jun", "Hao", "Ming", "Lei", "Jian", "Tao", "Bo", "Kai", "Feng"),
        "S": (
            "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou",
            "Xu", "Lin", "Ng", "Wong", "Chan", "Cheung", "Lam", "Ho",
        ),
    },
    "african": {
        "F": (
            "Blessing", "Precious", "Favour", "Grace", "Chioma", "Adaeze", "Amara", "Nneka",
            "Abena", "Ama", "Esther", "Deborah", "Mercy", "Faith", "Zainab", "Hodan",
            "Fadumo", "Ayan", "Ifeoma", "Folake",
        ),
        "M": (
            "David", "Emmanuel", "Samuel", "Daniel", "Joseph", "Chinedu", "Tunde",
            "Oluwaseun", "Kwame", "Kofi", "Ebuka", "Ifeanyi", "Abdi", "Mohamed", "Ahmed",
            "Tobi", "Femi", "Kayode", "Musa", "Isaac",
        ),
        "S": (
            "Okafor", "Adeyemi", "Mensah", "Owusu", "Boateng", "Okonkwo", "Adebayo", "Nwosu",
            "Asante", "Osei", "Eze", "Ogunleye", "Abdi", "Farah", "Hassan", "Mohamed",
            "Warsame", "Danso", "Appiah", "Adjei",
        ),
    },
    "caribbean": {
        "F": (
            "Shanice", "Aaliyah", "Keisha", "Tia", "Tianna", "Jade", "Chantelle", "Naomi",
            "Kayla", "Simone", "Leah", "Ruby", "Grace", "Maya",
        ),
        "M": (
            "Tyrone", "Jermaine", "Marcus", "Jaden", "Kemar", "Andre", "Dwayne", "Nathan",
            "Isaiah", "Elijah", "Leon", "Jordan", "Kai", "Jacob",
        ),
        "S": (
            "Campbell", "Francis", "Grant", "Reid", "Henry", "Thomas", "Bailey", "Gordon",
            "Stewart", "Powell", "Barrett", "Brown", "Williams", "Johnson", "Clarke",
        ),
    },
    "arabic": {
        "F": ("Layla", "Noor", "Mariam", "Huda", "Rania", "Salma", "Yasmin", "Dina", "Lina",
              "Reem"),
        "M": ("Omar", "Ahmad", "Khaled", "Youssef", "Karim", "Hassan", "Mustafa", "Tarek",
              "Sami", "Nabil"),
        "S": ("Haddad", "Abdullah", "Saleh", "Nasser", "Aziz", "Mansour", "Hamdan", "Jaber",
              "Darwish", "Rashid"),
    },
}  # fmt: skip

ORIGINS = tuple(_NAMES)

ORIGIN_OF_ETHNICITY = {
    **{c: "british" for c in ("WBRI", "WIRI", "WIRT", "MWBC", "MWBA", "MWAS", "MOTH",
                              "REFU", "NOBT")},
    "WOTH": "eastern_european",
    "WROM": "eastern_european",
    **{c: "south_asian" for c in ("AIND", "APKN", "ABAN", "AOTH")},
    "CHNE": "east_asian",
    "BAFR": "african",
    "BOTH": "african",
    "BCRB": "caribbean",
    "OOTH": "arabic",
}
"""Which name list to draw from for each DfE ethnicity code (unknown codes: british)."""

_WORKFORCE_ORIGIN_MIX = {
    "british": 0.74, "south_asian": 0.1, "african": 0.06, "eastern_european": 0.04,
    "caribbean": 0.04, "east_asian": 0.01, "arabic": 0.01,
}  # fmt: skip


def _origin_codes(origins: np.ndarray) -> np.ndarray:
    lookup = {o: i for i, o in enumerate(ORIGINS)}
    return pd.Series(origins, dtype=object).map(lookup).fillna(0).to_numpy(np.int64)


def _draw(lists: list[tuple[str, ...]], group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one name per row from ``lists[group[row]]`` without a per-row loop."""
    lengths = np.array([len(x) for x in lists])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    flat = np.array([n for x in lists for n in x], dtype=object)
    idx = offsets[group] + np.floor(rng.random(len(group)) * lengths[group]).astype(np.int64)
    return flat[idx]


def sample_origins(n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw name origins for ``n`` members of the LA's workforce or partner agencies.

    Parameters
    ----------
    n : int
        Number of people.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Origin keys (e.g. ``"british"``), one per person.
    """
    keys = list(_WORKFORCE_ORIGIN_MIX)
    p = np.array(list(_WORKFORCE_ORIGIN_MIX.values()))
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def sample_forenames(
    origins: np.ndarray, sexes: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw a forename for each person from the list for their origin and sex.

    Parameters
    ----------
    origins : numpy.ndarray
        Origin key per person (see :data:`ORIGIN_OF_ETHNICITY`).
    sexes : numpy.ndarray
        ``"F"``, ``"M"`` or anything else (drawn from either list at random).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Forenames (object array).
    """
    o = _origin_codes(origins)
    sex = pd.Series(sexes, dtype=object).to_numpy()
    is_f = np.where(sex == "F", True, np.where(sex == "M", False, rng.random(len(o)) < 0.5))
    lists = [_NAMES[k]["F"] for k in ORIGINS] + [_NAMES[k]["M"] for k in ORIGINS]
    return _draw(lists, np.where(is_f, o, o + len(ORIGINS)), rng)


def sample_surnames(origins: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw a surname for each row from the list for its origin.

    Parameters
    ----------
    origins : numpy.ndarray
        Origin key per row.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Surnames (object array).
    """
    return _draw([_NAMES[k]["S"] for k in ORIGINS], _origin_codes(origins), rng)


def nhs_check_digit(first_nine: np.ndarray) -> np.ndarray:
    """Modulus-11 check digit of NHS numbers given as their first nine digits.

    Weights 10, 9, ..., 2 multiply the nine digits; the check digit is
    ``11 - (sum mod 11)``, with 11 read as 0. A result of 10 means the nine
    digits cannot form a valid NHS number.

    Parameters
    ----------
    first_nine : numpy.ndarray
        Integers below 10**9.

    Returns
    -------
    numpy.ndarray
        Check digits 0-10 (10 = invalid).

    Examples
    --------
    >>> int(nhs_check_digit(np.array([943476591]))[0])
    9
    """
    x = np.asarray(first_nine, dtype=np.int64)
    total = np.zeros_like(x)
    for pos in range(9):  # nine digit positions, not a loop over people
        digit = (x // 10 ** (8 - pos)) % 10
        total += digit * (10 - pos)
    check = 11 - total % 11
    return np.where(check == 11, 0, check)


_VALID_TEST_NUMBERS: np.ndarray | None = None


def _valid_test_prefixes() -> np.ndarray:
    global _VALID_TEST_NUMBERS
    if _VALID_TEST_NUMBERS is None:
        cand = 999_000_000 + np.arange(1_000_000, dtype=np.int64)
        check = nhs_check_digit(cand)
        ok = check != 10
        _VALID_TEST_NUMBERS = (cand[ok] * 10 + check[ok]).astype(str).astype(object)
    return _VALID_TEST_NUMBERS


def fake_nhs_numbers(n: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``n`` distinct (up to about 909,000) fake NHS numbers from the 999 test range.

    Parameters
    ----------
    n : int
        How many numbers.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Ten-digit strings with a valid check digit; numbers repeat only after
        every valid number of the test range has been used once.
    """
    valid = _valid_test_prefixes()
    m = len(valid)
    # An affine map i -> (a*i + b) mod m with gcd(a, m) = 1 permutes 0..m-1.
    a = int(rng.integers(1, m))
    while np.gcd(a, m) != 1:
        a += 1
    b = int(rng.integers(0, m))
    return valid[(a * np.arange(n, dtype=np.int64) + b) % m]


_UPN_LETTERS = np.array(list("ABCDEFGHJKLMNPQRTUVWXYZ"))


def upn_check_letter(body: np.ndarray) -> np.ndarray:
    """DfE check letter of UPNs given their last twelve digits.

    Each digit is multiplied by its position (2 to 13); the sum modulo 23
    indexes the letters A-Z without I, O and S.

    Parameters
    ----------
    body : numpy.ndarray
        Twelve-character digit strings.

    Returns
    -------
    numpy.ndarray
        One check letter per UPN.
    """
    codes = np.frombuffer(np.asarray(body, dtype="U12").astype("S12").tobytes(), dtype=np.uint8)
    digits = codes.reshape(-1, 12).astype(np.int64) - ord("0")
    total = digits @ np.arange(2, 14, dtype=np.int64)
    return _UPN_LETTERS[total % 23]


def fake_upns(year_allocated: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Build fake UPNs for pupils first allocated one in ``year_allocated``.

    Parameters
    ----------
    year_allocated : numpy.ndarray
        Calendar year of first registration at school, per pupil.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Thirteen-character UPNs with LA number 999 and a valid check letter.
    """
    n = len(year_allocated)
    est = rng.integers(2000, 5000, n)
    serial = rng.integers(0, 1000, n)
    year = np.asarray(year_allocated, dtype=np.int64) % 100
    body = (
        pd.Series(est).astype(str).radd("999")
        + pd.Series(year).astype(str).str.zfill(2)
        + pd.Series(serial).astype(str).str.zfill(3)
    ).to_numpy(dtype="U12")
    return (pd.Series(upn_check_letter(body)) + pd.Series(body)).to_numpy(dtype=object)


_DRAMA_RANGES = (
    "01632 960", "0113 496 0", "0114 496 0", "0115 496 0", "0116 496 0", "0117 496 0",
    "0118 496 0", "0121 496 0", "0131 496 0", "0141 496 0", "0151 496 0", "0161 496 0",
    "020 7946 0", "07700 900",
)  # fmt: skip
"""Ofcom's number ranges reserved for TV and radio drama (1,000 numbers each)."""


def drama_phone_numbers(n: int, rng: np.random.Generator, local_first: int = 2) -> np.ndarray:
    """Draw phone numbers from Ofcom's drama ranges.

    Parameters
    ----------
    n : int
        How many numbers.
    rng : numpy.random.Generator
        Source of randomness.
    local_first : int
        The first ``local_first`` ranges (01632 and Leeds) are twice as likely,
        so most numbers look local.

    Returns
    -------
    numpy.ndarray
        Formatted numbers, e.g. ``"01632 960417"``.
    """
    w = np.ones(len(_DRAMA_RANGES))
    w[:local_first] = 2.0
    r = rng.choice(len(_DRAMA_RANGES), size=n, p=w / w.sum())
    tail = pd.Series(rng.integers(0, 1000, n)).astype(str).str.zfill(3)
    return (pd.Series(np.array(_DRAMA_RANGES, dtype=object)[r]) + tail).to_numpy(dtype=object)


def email_addresses(forenames: np.ndarray, surnames: np.ndarray, domains: np.ndarray) -> np.ndarray:
    """Build ``firstname.surname@domain`` addresses, numbered when a pair repeats.

    Parameters
    ----------
    forenames, surnames : numpy.ndarray
        Names per person.
    domains : numpy.ndarray or str
        Domain per person (should end in ``.example``).

    Returns
    -------
    numpy.ndarray
        Lower-case addresses with letters only in the local part; the second
        ``jane.smith`` at a domain becomes ``jane.smith2``.
    """
    local = (
        pd.Series(forenames, dtype=object).str.lower().str.replace(r"[^a-z]", "", regex=True)
        + "."
        + pd.Series(surnames, dtype=object).str.lower().str.replace(r"[^a-z]", "", regex=True)
    )
    dom = pd.Series(np.broadcast_to(np.asarray(domains, dtype=object), len(local)))
    seq = pd.DataFrame({"l": local, "d": dom}).groupby(["l", "d"], sort=False).cumcount() + 1
    suffix = seq.astype(str).where(seq > 1, "")
    return (local + suffix + "@" + dom).to_numpy(dtype=object)
