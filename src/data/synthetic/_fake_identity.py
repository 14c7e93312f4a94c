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
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "ORIGIN_OF_ETHNICITY",
    "digit_strings",
    "ethnicity_origin_codes",
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
    origins = np.asarray(origins)
    if origins.dtype.kind in "iu":
        return origins.astype(np.int64)
    lookup = {o: i for i, o in enumerate(ORIGINS)}
    return pd.Series(origins, dtype=object).map(lookup).fillna(0).to_numpy(np.int64)


def ethnicity_origin_codes(ethnicity: pa.Array) -> np.ndarray:
    """Index into ``ORIGINS`` of each DfE ethnicity code (unknown or null: british).

    Parameters
    ----------
    ethnicity : pyarrow.Array
        Ethnicity codes.

    Returns
    -------
    numpy.ndarray
        Integer origin codes, accepted by :func:`sample_forenames` and
        :func:`sample_surnames` in place of origin names.
    """
    keys = list(ORIGIN_OF_ETHNICITY)
    origin_of_key = np.array([ORIGINS.index(ORIGIN_OF_ETHNICITY[k]) for k in keys])
    pos = pc.index_in(ethnicity, value_set=pa.array(keys)).fill_null(-1)
    pos = pos.to_numpy(zero_copy_only=False).astype(np.int64)
    return np.where(pos >= 0, origin_of_key[np.maximum(pos, 0)], ORIGINS.index("british"))


def _draw(
    lists: list[tuple[str, ...]], group: np.ndarray, rng: np.random.Generator, as_arrow: bool
) -> np.ndarray | pa.Array:
    """Draw one name per row from ``lists[group[row]]`` without a per-row loop."""
    lengths = np.array([len(x) for x in lists])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    flat = [n for x in lists for n in x]
    idx = offsets[group] + np.floor(rng.random(len(group)) * lengths[group]).astype(np.int64)
    if as_arrow:
        return pa.array(flat, type=pa.large_string()).take(pa.array(idx))
    return np.array(flat, dtype=object)[idx]


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
    origins: np.ndarray, sexes: np.ndarray, rng: np.random.Generator, as_arrow: bool = False
) -> np.ndarray | pa.Array:
    """Draw a forename for each person from the list for their origin and sex.

    Parameters
    ----------
    origins : numpy.ndarray
        Origin key (or integer origin code) per person (see :data:`ORIGIN_OF_ETHNICITY`).
    sexes : numpy.ndarray
        ``"F"``, ``"M"`` or anything else (drawn from either list at random);
        or integer codes 0 = F, 1 = M, other = unknown.
    rng : numpy.random.Generator
        Source of randomness.
    as_arrow : bool
        Return an Arrow string array instead of an object array.

    Returns
    -------
    numpy.ndarray or pyarrow.Array
        Forenames.
    """
    o = _origin_codes(origins)
    sex = np.asarray(sexes)
    if sex.dtype.kind in "iu":
        female, male = sex == 0, sex == 1
    else:
        sex = sex.astype(object)
        female, male = sex == "F", sex == "M"
    is_f = np.where(female, True, np.where(male, False, rng.random(len(o)) < 0.5))
    lists = [_NAMES[k]["F"] for k in ORIGINS] + [_NAMES[k]["M"] for k in ORIGINS]
    return _draw(lists, np.where(is_f, o, o + len(ORIGINS)), rng, as_arrow)


def sample_surnames(
    origins: np.ndarray, rng: np.random.Generator, as_arrow: bool = False
) -> np.ndarray | pa.Array:
    """Draw a surname for each row from the list for its origin.

    Parameters
    ----------
    origins : numpy.ndarray
        Origin key (or integer origin code) per row.
    rng : numpy.random.Generator
        Source of randomness.
    as_arrow : bool
        Return an Arrow string array instead of an object array.

    Returns
    -------
    numpy.ndarray or pyarrow.Array
        Surnames.
    """
    return _draw([_NAMES[k]["S"] for k in ORIGINS], _origin_codes(origins), rng, as_arrow)


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


_VALID_TEST_NUMBERS: pa.Array | None = None


def _valid_test_numbers() -> pa.Array:
    global _VALID_TEST_NUMBERS
    if _VALID_TEST_NUMBERS is None:
        cand = 999_000_000 + np.arange(1_000_000, dtype=np.int64)
        check = nhs_check_digit(cand)
        ok = check != 10
        _VALID_TEST_NUMBERS = digit_strings(cand[ok] * 10 + check[ok], 10)
    return _VALID_TEST_NUMBERS


def digit_strings(numbers: np.ndarray, width: int, prefix: str = "") -> pa.Array:
    """Format non-negative integers as ``prefix`` + zero-padded digits, in bulk.

    The bytes are written straight into an Arrow buffer (four digits at a time
    from a lookup table), far faster than formatting Python strings.

    Parameters
    ----------
    numbers : numpy.ndarray
        Integers below ``10**width``.
    width : int
        Digits per number.
    prefix : str
        ASCII text put before the digits.

    Returns
    -------
    pyarrow.Array
        Large-string array.
    """
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    n, length = len(numbers), len(head) + width
    data = np.empty((n, length), dtype=np.uint8)
    data[:, : len(head)] = head
    rest = np.asarray(numbers, dtype=np.int64).copy()
    end = length
    while end > len(head):
        take = min(4, end - len(head))
        data[:, end - take: end] = _FOUR_DIGITS[rest % 10_000][:, 4 - take:]
        rest //= 10_000
        end -= take
    offsets = np.arange(0, (n + 1) * length, length, dtype=np.int64)
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets),
                                                         pa.py_buffer(data)])


_FOUR_DIGITS = np.frombuffer("".join(f"{i:04d}" for i in range(10_000)).encode("ascii"),
                             dtype=np.uint8).reshape(10_000, 4)


def fake_nhs_numbers(n: int, rng: np.random.Generator, as_arrow: bool = False
                     ) -> np.ndarray | pa.Array:
    """Return ``n`` distinct (up to about 909,000) fake NHS numbers from the 999 test range.

    Parameters
    ----------
    n : int
        How many numbers.
    rng : numpy.random.Generator
        Source of randomness.
    as_arrow : bool
        Return an Arrow string array instead of an object array.

    Returns
    -------
    numpy.ndarray or pyarrow.Array
        Ten-digit strings with a valid check digit; numbers repeat only after
        every valid number of the test range has been used once.
    """
    valid = _valid_test_numbers()
    m = len(valid)
    # An affine map i -> (a*i + b) mod m with gcd(a, m) = 1 permutes 0..m-1.
    a = int(rng.integers(1, m))
    while np.gcd(a, m) != 1:
        a += 1
    b = int(rng.integers(0, m))
    out = valid.take(pa.array((a * np.arange(n, dtype=np.int64) + b) % m))
    return out if as_arrow else out.to_numpy(zero_copy_only=False).astype(object)


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


def fake_upns(year_allocated: np.ndarray, rng: np.random.Generator, as_arrow: bool = False
              ) -> np.ndarray | pa.Array:
    """Build fake UPNs for pupils first allocated one in ``year_allocated``.

    Parameters
    ----------
    year_allocated : numpy.ndarray
        Calendar year of first registration at school, per pupil.
    rng : numpy.random.Generator
        Source of randomness.
    as_arrow : bool
        Return an Arrow string array instead of an object array.

    Returns
    -------
    numpy.ndarray or pyarrow.Array
        Thirteen-character UPNs with LA number 999 and a valid check letter.
    """
    n = len(year_allocated)
    est = rng.integers(2000, 5000, n)
    serial = rng.integers(0, 1000, n)
    year = np.asarray(year_allocated, dtype=np.int64) % 100
    body = 999 * 10**9 + est * 10**5 + year * 10**3 + serial  # the twelve digits
    digits = (body[:, None] // 10 ** np.arange(11, -1, -1, dtype=np.int64)) % 10
    letter = _UPN_LETTERS[(digits @ np.arange(2, 14, dtype=np.int64)) % 23]
    upn = pc.binary_join_element_wise(pa.array(letter, type=pa.large_string()),
                                      digit_strings(body, 12),
                                      pa.scalar("", type=pa.large_string()))
    return upn if as_arrow else upn.to_numpy(zero_copy_only=False).astype(object)


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
