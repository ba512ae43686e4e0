"""Word lists for the demo union built by `manage.py seed_demo`.

Regions, towns and their postcode areas are real; schools, trusts, agencies and people are made up.
Weights are rough relative frequencies, good enough for a plausible spread of names.
"""

from __future__ import annotations


def _weighted(block: str) -> list[tuple[str, int]]:
    """Parse 'Name:weight' entries separated by commas or new lines."""
    pairs = []
    for entry in block.replace("\n", ",").split(","):
        entry = entry.strip()
        if entry:
            name, _, weight = entry.rpartition(":")
            pairs.append((name.strip(), int(weight)))
    return pairs


def _words(block: str, separator: str | None = None) -> list[str]:
    return [word.strip() for word in block.split(separator) if word.strip()]


def _ranked(block: str) -> list[tuple[str, int]]:
    """Names listed most common first; weights fall away gently down the list (Zipf-like)."""
    names = [name.strip() for name in block.replace("\n", ",").split(",") if name.strip()]
    return [(name, max(1, round(1000 / (rank + 6)))) for rank, name in enumerate(names)]


# Region name, code, and its district branches: (town or borough, postcode area), most populous first.
REGIONS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "North East",
        "north-east",
        [
            ("Newcastle upon Tyne", "NE"),
            ("Sunderland", "SR"),
            ("Middlesbrough", "TS"),
            ("Gateshead", "NE"),
            ("Durham", "DH"),
            ("Darlington", "DL"),
            ("Stockton-on-Tees", "TS"),
            ("South Shields", "NE"),
            ("Hartlepool", "TS"),
            ("Redcar", "TS"),
            ("Blyth", "NE"),
            ("Hexham", "NE"),
        ],
    ),
    (
        "North West",
        "north-west",
        [
            ("Liverpool", "L"),
            ("Preston", "PR"),
            ("Warrington", "WA"),
            ("Blackpool", "FY"),
            ("Blackburn", "BB"),
            ("Birkenhead", "CH"),
            ("St Helens", "WA"),
            ("Chester", "CH"),
            ("Burnley", "BB"),
            ("Lancaster", "LA"),
            ("Carlisle", "CA"),
            ("Southport", "PR"),
            ("Crewe", "CW"),
            ("Barrow-in-Furness", "LA"),
            ("Kendal", "LA"),
        ],
    ),
    (
        "Greater Manchester",
        "greater-manchester",
        [
            ("Manchester", "M"),
            ("Salford", "M"),
            ("Bolton", "BL"),
            ("Stockport", "SK"),
            ("Wigan", "WN"),
            ("Oldham", "OL"),
            ("Rochdale", "OL"),
            ("Bury", "BL"),
            ("Ashton-under-Lyne", "OL"),
            ("Altrincham", "WA"),
            ("Leigh", "WN"),
        ],
    ),
    (
        "Yorkshire and the Humber",
        "yorkshire-humber",
        [
            ("Leeds", "LS"),
            ("Sheffield", "S"),
            ("Bradford", "BD"),
            ("Hull", "HU"),
            ("York", "YO"),
            ("Doncaster", "DN"),
            ("Huddersfield", "HD"),
            ("Wakefield", "WF"),
            ("Rotherham", "S"),
            ("Barnsley", "S"),
            ("Halifax", "HX"),
            ("Harrogate", "HG"),
            ("Grimsby", "DN"),
            ("Scunthorpe", "DN"),
            ("Scarborough", "YO"),
            ("Dewsbury", "WF"),
            ("Keighley", "BD"),
        ],
    ),
    (
        "East Midlands",
        "east-midlands",
        [
            ("Nottingham", "NG"),
            ("Leicester", "LE"),
            ("Derby", "DE"),
            ("Northampton", "NN"),
            ("Lincoln", "LN"),
            ("Chesterfield", "S"),
            ("Mansfield", "NG"),
            ("Loughborough", "LE"),
            ("Kettering", "NN"),
            ("Corby", "NN"),
            ("Boston", "PE"),
            ("Grantham", "NG"),
            ("Newark", "NG"),
            ("Wellingborough", "NN"),
        ],
    ),
    (
        "West Midlands",
        "west-midlands",
        [
            ("Birmingham", "B"),
            ("Coventry", "CV"),
            ("Wolverhampton", "WV"),
            ("Stoke-on-Trent", "ST"),
            ("Walsall", "WS"),
            ("Dudley", "DY"),
            ("Solihull", "B"),
            ("Telford", "TF"),
            ("West Bromwich", "B"),
            ("Worcester", "WR"),
            ("Shrewsbury", "SY"),
            ("Nuneaton", "CV"),
            ("Hereford", "HR"),
            ("Stafford", "ST"),
            ("Redditch", "B"),
            ("Kidderminster", "DY"),
        ],
    ),
    (
        "Eastern",
        "eastern",
        [
            ("Norwich", "NR"),
            ("Peterborough", "PE"),
            ("Luton", "LU"),
            ("Ipswich", "IP"),
            ("Cambridge", "CB"),
            ("Southend-on-Sea", "SS"),
            ("Chelmsford", "CM"),
            ("Colchester", "CO"),
            ("Bedford", "MK"),
            ("Watford", "WD"),
            ("Basildon", "SS"),
            ("St Albans", "AL"),
            ("Stevenage", "SG"),
            ("King's Lynn", "PE"),
            ("Great Yarmouth", "NR"),
        ],
    ),
    (
        "Inner London",
        "inner-london",
        [
            ("Lambeth", "SE"),
            ("Southwark", "SE"),
            ("Tower Hamlets", "E"),
            ("Hackney", "E"),
            ("Newham", "E"),
            ("Lewisham", "SE"),
            ("Wandsworth", "SW"),
            ("Islington", "N"),
            ("Camden", "NW"),
            ("Haringey", "N"),
            ("Greenwich", "SE"),
            ("Westminster", "W"),
        ],
    ),
    (
        "Outer London",
        "outer-london",
        [
            ("Croydon", "CR"),
            ("Barnet", "EN"),
            ("Ealing", "W"),
            ("Enfield", "EN"),
            ("Brent", "HA"),
            ("Bromley", "BR"),
            ("Redbridge", "IG"),
            ("Hillingdon", "UB"),
            ("Waltham Forest", "E"),
            ("Hounslow", "TW"),
            ("Havering", "RM"),
            ("Harrow", "HA"),
            ("Bexley", "DA"),
            ("Sutton", "SM"),
            ("Kingston upon Thames", "KT"),
        ],
    ),
    (
        "South East",
        "south-east",
        [
            ("Southampton", "SO"),
            ("Portsmouth", "PO"),
            ("Brighton", "BN"),
            ("Reading", "RG"),
            ("Milton Keynes", "MK"),
            ("Oxford", "OX"),
            ("Slough", "SL"),
            ("Maidstone", "ME"),
            ("Crawley", "RH"),
            ("Canterbury", "CT"),
            ("Guildford", "GU"),
            ("High Wycombe", "HP"),
            ("Basingstoke", "RG"),
            ("Chatham", "ME"),
            ("Worthing", "BN"),
            ("Eastbourne", "BN"),
            ("Hastings", "TN"),
            ("Tunbridge Wells", "TN"),
        ],
    ),
    (
        "South West",
        "south-west",
        [
            ("Bristol", "BS"),
            ("Plymouth", "PL"),
            ("Swindon", "SN"),
            ("Bournemouth", "BH"),
            ("Exeter", "EX"),
            ("Gloucester", "GL"),
            ("Cheltenham", "GL"),
            ("Poole", "BH"),
            ("Bath", "BA"),
            ("Taunton", "TA"),
            ("Torquay", "TQ"),
            ("Truro", "TR"),
            ("Salisbury", "SP"),
            ("Yeovil", "BA"),
        ],
    ),
    (
        "Wales",
        "wales",
        [
            ("Cardiff", "CF"),
            ("Swansea", "SA"),
            ("Newport", "NP"),
            ("Wrexham", "LL"),
            ("Bridgend", "CF"),
            ("Llanelli", "SA"),
            ("Caerphilly", "CF"),
            ("Pontypridd", "CF"),
            ("Neath", "SA"),
            ("Merthyr Tydfil", "CF"),
            ("Carmarthen", "SA"),
            ("Rhyl", "LL"),
            ("Bangor", "LL"),
            ("Aberystwyth", "SY"),
        ],
    ),
]

# London branches are boroughs, whose local authority is styled differently.
LONDON_REGIONS = {"inner-london", "outer-london"}

# Place-like words for school names: PREFIX + SUFFIX gives "Oakfield", "Brookside", "Millbank"...
PLACE_PREFIXES = _words(
    "Oak Ash Elm Birch Beech Hazel Holly Willow Rowan Cedar Maple Larch Heather Fern Brook Mill Church Castle "
    "Bridge Hill Green Moor Lark Kings Queens Abbey Manor Priory Grange Marsh Wood West East North South Spring "
    "Well Ford Stone Rose Thorn Lime Pine Meadow Orchard Fox Wren Swan Kestrel Heron Bramble Clover Cherry Apple"
)
PLACE_SUFFIXES = _words("field wood dale side gate lands bank mead hurst croft ley ton bury view way brook")
SAINTS = [
    "St Mary's",
    "St John's",
    "St Peter's",
    "St Joseph's",
    "St Anne's",
    "St Michael's",
    "St Paul's",
    "St Andrew's",
    "St Margaret's",
    "St Thomas'",
    "St Bede's",
    "St Chad's",
    "St Hilda's",
    "St Augustine's",
    "St Teresa's",
    "St Patrick's",
    "All Saints",
    "Holy Trinity",
    "Christ Church",
    "Our Lady's",
    "Sacred Heart",
    "Holy Family",
]

# (sector, share of workplaces, eligible staff range, name templates). {place}, {saint} and {town} are filled in.
WORKPLACE_KINDS = [
    (
        "primary",
        58,
        (14, 60),
        [
            "{place} Primary School",
            "{place} Primary School",
            "{place} Community Primary School",
            "{place} Primary Academy",
            "{place} Infant School",
            "{place} Junior School",
            "{saint} C of E Primary School",
            "{saint} Catholic Primary School",
        ],
    ),
    (
        "secondary",
        16,
        (60, 190),
        [
            "{place} High School",
            "{place} Academy",
            "{place} School",
            "{town} {place} Academy",
            "{saint} Catholic High School",
            "{saint} C of E Academy",
            "{place} Grammar School",
        ],
    ),
    (
        "special",
        5,
        (25, 90),
        ["{place} School", "{place} Special School", "{place} Academy", "{place} Specialist School"],
    ),
    ("early_years", 5, (8, 25), ["{place} Nursery School", "{place} Children's Centre", "{place} Early Years Centre"]),
    (
        "independent",
        8,
        (25, 140),
        ["{place} House School", "{place} Preparatory School", "{place} Hall School", "{place} School"],
    ),
    (
        "sixth_form",
        3,
        (40, 130),
        ["{place} Sixth Form College", "{town} Sixth Form College", "{saint} Sixth Form College"],
    ),
    ("further_education", 5, (150, 700), ["{town} College", "{place} College", "{town} College of Further Education"]),
]
SCHOOL_SECTORS = {"primary", "secondary", "special", "early_years", "independent"}
COLLEGE_SECTORS = {"sixth_form", "further_education"}

TRUST_TEMPLATES = [
    "{place} Learning Trust",
    "{place} Academy Trust",
    "{place} Multi Academy Trust",
    "{place} Education Partnership",
    "{saint} Catholic Academy Trust",
    "{place} Schools Trust",
]

SUPPLY_AGENCIES = [
    "Bluebell Education Supply",
    "Northstar Teaching Cover",
    "Lantern Supply Teachers",
    "Cornerstone Classroom Staffing",
    "Kingfisher Education Agency",
    "Chalkline Cover Services",
    "Harbour Teaching Supply",
    "Compass Classroom Cover",
    "Brightside Education Staffing",
    "Quayside Supply Teaching",
]

STREETS = _words(
    "High Street, Station Road, Church Lane, Victoria Road, Park Avenue, Main Street, Green Lane, Manor Road, "
    "Church Street, Park Road, Queens Road, New Road, Grange Road, Kings Road, Albert Road, Mill Lane, School Lane, "
    "The Crescent, Chestnut Close, Springfield Road, Highfield Road, North Street, West Street, London Road, "
    "Windsor Road, York Road, George Street, Alexandra Road, Stanley Road, Richmond Road, Orchard Way, Meadow View, "
    "Beech Grove, Willow Drive, Oak Avenue, Cedar Close, Elm Road, Hawthorn Way, Rosemary Lane, Brook Street, "
    "Market Street, Castle Street, Bridge Street, Water Lane, Hill Street, Clarence Road, Mount Pleasant, "
    "Farm Close, Moorland Road, Cemetery Road",
    ",",
)
# Letters that may follow the digit in a postcode's inward code.
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

# UK mobile blocks (07 4, 07 5, 07 8) that libphonenumber accepts as valid mobiles throughout.
# Ofcom's drama range (07700 900xxx) is not used: libphonenumber rejects it, so crm.phones would too.
MOBILE_BLOCKS = ("74", "75", "78")

# Reserved for documentation (RFC 2606), so demo mail can never reach a real person.
EMAIL_DOMAINS = ("example.org", "example.com", "example.net")

TAGS = [
    "Pay campaign 2025",
    "Workload survey",
    "Newsletter",
    "New member welcome",
    "Conference delegate 2024",
    "Ballot volunteer",
    "Phone bank",
    "Early career",
    "Activist academy",
    "Joint union committee",
    "Health and safety network",
    "Supply network",
]

SURNAMES = _weighted(
    """
    Smith:1150, Jones:760, Williams:620, Taylor:460, Brown:450, Davies:420, Evans:360, Wilson:300, Thomas:300,
    Johnson:290, Roberts:280, Robinson:240, Thompson:240, Wright:230, Walker:230, White:220, Edwards:210,
    Hughes:210, Green:200, Hall:200, Lewis:195, Harris:190, Clarke:190, Patel:190, Jackson:180, Wood:175,
    Turner:170, Martin:170, Cooper:170, Hill:165, Ward:160, Morris:160, Moore:160, Clark:155, Lee:155, King:155,
    Baker:150, Harrison:150, Morgan:145, Allen:140, James:140, Scott:135, Phillips:135, Watson:130, Davis:130,
    Parker:125, Price:125, Bennett:120, Young:120, Griffiths:120, Mitchell:118, Kelly:115, Cook:115, Carter:112,
    Richardson:110, Bailey:108, Collins:106, Bell:105, Shaw:104, Murphy:102, Miller:100, Cox:98, Richards:97,
    Khan:96, Marshall:95, Anderson:94, Simpson:93, Ellis:92, Adams:91, Singh:90, Begum:88, Wilkinson:86,
    Foster:85, Chapman:84, Powell:83, Webb:82, Rogers:81, Gray:80, Mason:79, Ali:78, Hunt:77, Hussain:76,
    Campbell:75, Matthews:74, Owen:73, Palmer:72, Holmes:71, Mills:70, Barnes:69, Knight:68, Lloyd:67,
    Butler:66, Russell:65, Barker:64, Fisher:63, Stevens:62, Jenkins:61, Murray:60, Dixon:59, Harvey:58,
    Graham:57, Pearson:56, Ahmed:55, Fletcher:54, Walsh:53, Kaur:52, Gibson:51, Howard:50, Andrews:50,
    Stewart:49, Elliott:48, Reynolds:47, Saunders:46, Payne:45, Fox:45, Ford:44, Pearce:44, Day:43, Brooks:43,
    West:42, Lawrence:42, Cole:41, Atkinson:41, Bradley:40, Spencer:40, Gill:39, Dawson:39, Ball:38, Burton:38,
    O'Brien:37, Watts:37, Rose:36, Booth:36, Perry:35, Ryan:35, Grant:34, Wells:34, Armstrong:33, Francis:33,
    Rees:33, Hayes:32, Hart:32, Hudson:31, Newman:31, Barrett:30, Webster:30, Hunter:30, Gregory:29, Carr:29,
    Lowe:29, Page:28, Marsh:28, Riley:28, Dunn:27, Woods:27, Parsons:27, Berry:26, Stone:26, Reid:26,
    Holland:25, Hawkins:25, Harding:25, Porter:24, Robertson:24, Newton:24, Oliver:23, Reed:23, Kennedy:23,
    Williamson:22, Bird:22, Gardner:22, Shah:22, Dean:21, Lane:21, Cooke:21, Bates:20, Henderson:20, Parry:20,
    Burgess:20, Bishop:19, Walton:19, Burns:19, Nicholson:19, Shepherd:18, Ross:18, Cross:18, Long:18,
    Freeman:18, Warren:17, Nicholls:17, Hamilton:17, Byrne:17, Sutton:16, McDonald:16, Yates:16, Hodgson:16,
    Robson:16, Curtis:15, Hopkins:15, O'Connor:15, Harper:15, Coleman:15, Watkins:14, Moss:14, McCarthy:14,
    Chambers:14, O'Neill:14, Griffin:13, Sharp:13, Hardy:13, Wheeler:13, Potter:13, Osborne:12, Johnston:12,
    Gordon:12, Doyle:12, Wallace:12, George:12, Jordan:12, Hutchinson:11, Rowe:11, Burke:11, May:11,
    Pritchard:11, Gilbert:11, Willis:10, Higgins:10, Read:10, Miah:10, Sharma:10, Kumar:9, Mistry:8, Chauhan:7,
    Parmar:7, Akhtar:9, Mahmood:8, Iqbal:8, Rashid:7, Chen:8, Wang:6, Wong:7, Zhang:5, Nowak:7, Kowalski:6,
    Kowalczyk:5, Lewandowski:4, Okafor:5, Mensah:5, Adeyemi:5, Boateng:4, Osei:4, Bowen:9, Vaughan:8,
    Howells:6, Pugh:7, Lynch:9, Quinn:8, Gallagher:8, Kaye:5, Nolan:7, Brennan:6, Hewitt:9, Sanderson:8,
    Cartwright:8, Whitehead:9, Lambert:8, Middleton:7, Haworth:6, Kirk:7, Lord:6, Sykes:7, Barlow:8
    """
)

FEMALE_FIRST_NAMES = _ranked(
    """
    Sarah, Emma, Claire, Laura, Rachel, Rebecca, Helen, Nicola, Lisa, Karen, Joanne, Michelle, Louise, Kelly,
    Gemma, Amy, Hannah, Charlotte, Sophie, Jessica, Katie, Victoria, Jennifer, Catherine, Elizabeth, Emily, Lucy,
    Natalie, Samantha, Stephanie, Kirsty, Jade, Zoe, Julie, Susan, Alison, Amanda, Jane, Deborah, Angela, Tracey,
    Caroline, Fiona, Anna, Eleanor, Holly, Megan, Chloe, Lauren, Danielle, Kathryn, Ruth, Jenny, Sian, Ffion,
    Rhian, Bethan, Cerys, Aisha, Fatima, Priya, Sana, Ayesha, Nadia, Agnieszka, Joanna, Grace, Ellie, Alice,
    Olivia, Georgia, Abigail, Hayley, Leanne, Donna, Dawn, Wendy, Patricia, Margaret, Linda, Carol, Janet,
    Gillian, Sharon, Diane, Lynne, Paula, Anne, Mary, Esther, Naomi, Harriet, Imogen, Bethany, Niamh, Siobhan,
    Aoife, Yasmin, Zara, Amira, Mei, Chantelle, Keisha, Tanya, Smita, Shirley, Sonia, Simone
    """
)

MALE_FIRST_NAMES = _ranked(
    """
    David, Paul, Andrew, Mark, James, Richard, Michael, Steven, Christopher, Matthew, Daniel, Robert, Peter, John,
    Thomas, Simon, Jonathan, Stephen, Gareth, Ian, Neil, Martin, Adam, Benjamin, Samuel, Joseph, Luke, Oliver,
    Jack, Ryan, Liam, Craig, Lee, Darren, Wayne, Jason, Gary, Kevin, Stuart, Graham, Alan, Philip, Nicholas,
    Timothy, Anthony, Kieran, Aaron, Nathan, Jamie, Scott, Alexander, William, Edward, George, Henry, Harry, Tom,
    Rhys, Dafydd, Owain, Huw, Mohammed, Imran, Asif, Arjun, Rajesh, Tomasz, Piotr, Kwame, Tunde, Callum, Connor,
    Sean, Patrick, Declan, Carl, Dean, Shaun, Joel, Joshua, Elliot, Marcus, Dominic, Hugh, Colin, Keith, Brian,
    Trevor, Malcolm, Roger, Nigel, Sebastian
    """
)

# The long tail: most people do not share one of the commonest surnames, so place-name surnames
# (Ashton, Blackwood, Thornley...) made from these parts carry three quarters of the weight.
SURNAME_TAIL_PREFIXES = _words(
    "Ash Black Brad Brom Bur Cal Chad Chat Crom Dal Dar Dun Eld Fair Farn Gold Hal Hart Heath Hol Horn Kirk "
    "Lang Lin Mar Mid Moor New Nor Oak Pen Ram Red Rid Roth Sal Shel Stan Stock Sud Thorn Wal War Wes Whit "
    "Win Wood Wor Ack Bar Bew Cog Els Gar Hask Ing Kel Mel Ost Pick Rav Tol Ub Up Yar"
)
SURNAME_TAIL_SUFFIXES = _words("ton ley ford field wood worth by ham well croft stead bridge dale more")
COMMON_SURNAME_SHARE = 0.25


def surname_weights() -> list[tuple[str, float]]:
    """Common surnames at their rough relative frequency, then the place-name tail, Zipf-like within it."""
    common = dict(SURNAMES)
    tail = {}
    for i, prefix in enumerate(SURNAME_TAIL_PREFIXES):
        for j, suffix in enumerate(SURNAME_TAIL_SUFFIXES):
            name = prefix + suffix
            if name not in common and prefix[-1] != suffix[0]:
                tail[name] = 1 / ((i % 23) + 10) / (j + 6)
    scale = sum(common.values()) * (1 - COMMON_SURNAME_SHARE) / COMMON_SURNAME_SHARE / sum(tail.values())
    return [*common.items(), *((name, weight * scale) for name, weight in tail.items())]
