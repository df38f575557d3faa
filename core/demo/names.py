"""Word lists for the demo utility: invented people, streets and businesses in one made-up city."""

from __future__ import annotations

CITY = "Riverbend"
STATE = "OK"
# Local area codes first; bigger seeds spill into more, like people who keep an out-of-town cell.
AREA_CODES = (
    "405", "572", "918", "539", "580", "479", "417", "316", "620", "785", "913", "816",
    "660", "573", "314", "636", "501", "870", "903", "430", "940", "972", "469", "214",
    "817", "682", "254", "325", "432", "806", "915", "505", "575", "719", "303", "720",
    "970", "402", "531", "308", "712", "515", "319", "563", "641", "608", "414", "262",
    "920", "715", "612", "651", "763", "952", "507", "218", "320", "701", "605", "406",
    "307", "208", "801", "385", "435", "602", "480", "520", "928", "702", "775", "559",
    "661", "209", "916", "530", "541", "503", "971", "360", "509", "206", "253", "425",
    "907", "808", "337", "318", "225", "504", "985", "601", "662", "769", "228", "251",
)
# ZIP codes of the service territory, one or two per substation area.
ZIPS = tuple(str(z) for z in range(73301, 73341))

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony",
    "Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily",
    "Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian",
    "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Rebecca", "Jason", "Sharon",
    "Edward", "Laura", "Jeffrey", "Cynthia", "Ryan", "Dorothy", "Jacob", "Amy", "Gary", "Kathleen",
    "Nicholas", "Angela", "Eric", "Shirley", "Jonathan", "Emma", "Stephen", "Brenda", "Larry",
    "Pamela", "Justin", "Nicole", "Scott", "Anna", "Brandon", "Samantha", "Benjamin", "Katherine",
    "Samuel", "Christine", "Gregory", "Debra", "Alexander", "Rachel", "Patrick", "Carolyn",
    "Frank", "Janet", "Raymond", "Maria", "Jack", "Olivia", "Dennis", "Heather", "Jerry", "Helen",
    "Tyler", "Catherine", "Aaron", "Diane", "Jose", "Julie", "Adam", "Victoria", "Nathan", "Joyce",
    "Henry", "Lauren", "Zachary", "Kelly", "Douglas", "Christina", "Peter", "Ruth", "Kyle", "Joan",
    "Noah", "Virginia", "Ethan", "Judith", "Jeremy", "Evelyn", "Christian", "Hannah", "Walter",
    "Andrea", "Keith", "Megan", "Austin", "Cheryl", "Roger", "Jacqueline", "Terry", "Madison",
    "Sean", "Teresa", "Gerald", "Abigail", "Carl", "Sophia", "Dylan", "Martha", "Harold", "Sara",
    "Jordan", "Gloria", "Jesse", "Janice", "Bryan", "Kathryn", "Lawrence", "Ann", "Arthur",
    "Isabella", "Gabriel", "Judy", "Bruce", "Charlotte", "Logan", "Julia", "Billy", "Grace",
    "Malik", "Aaliyah", "Darnell", "Imani", "Tyrone", "Keisha", "DeShawn", "Latoya", "Hiroshi",
    "Mei", "Wei", "Priya", "Arjun", "Anh", "Minh", "Fatima", "Omar", "Yusuf", "Amara", "Chidi",
)
SPANISH_FIRST_NAMES = (
    "José", "María", "Juan", "Guadalupe", "Luis", "Rosa", "Carlos", "Ana", "Jorge", "Carmen",
    "Miguel", "Lucía", "Alejandro", "Sofía", "Fernando", "Isabel", "Javier", "Elena", "Ricardo",
    "Gabriela", "Francisco", "Verónica", "Manuel", "Adriana", "Raúl", "Patricia", "Eduardo",
    "Mariana", "Héctor", "Leticia", "Arturo", "Daniela", "Sergio", "Alejandra", "Andrés",
    "Claudia", "Roberto", "Paola", "Enrique", "Silvia", "Óscar", "Yolanda", "Ramón", "Beatriz",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
    "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris",
    "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Campbell", "Mitchell", "Carter", "Roberts",
    "Phillips", "Evans", "Turner", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Murphy",
    "Cook", "Rogers", "Morgan", "Cooper", "Peterson", "Reed", "Bailey", "Bell", "Kelly", "Howard",
    "Ward", "Cox", "Richardson", "Wood", "Watson", "Brooks", "Bennett", "Gray", "James", "Hughes",
    "Price", "Sanders", "Myers", "Long", "Ross", "Foster", "Powell", "Jenkins", "Perry", "Russell",
    "Sullivan", "Fisher", "Henderson", "Coleman", "Simmons", "Patterson", "Jordan", "Reynolds",
    "Hamilton", "Graham", "Wallace", "Woods", "Cole", "West", "Owens", "Marshall", "Ellis",
    "Harrison", "Gibson", "McDonald", "Kennedy", "Wells", "Tucker", "Porter", "Hunter", "Hicks",
    "Crawford", "Boyd", "Mason", "Warren", "Dixon", "Burns", "Gordon", "Shaw", "Holmes", "Rice",
    "Hunt", "Black", "Palmer", "Nguyen", "Tran", "Kim", "Park", "Chen", "Wang", "Patel", "Shah",
    "Okafor", "Adeyemi", "Yamamoto", "Tanaka", "Begay", "Yazzie", "Whitehorse", "Kowalski",
    "Novak", "O'Brien", "Schmidt", "Fischer", "Larsen", "Jensen", "Haddad", "Khalil",
)
SPANISH_LAST_NAMES = (
    "Garcia", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Perez", "Sanchez",
    "Ramirez", "Torres", "Flores", "Rivera", "Gomez", "Diaz", "Reyes", "Morales", "Cruz", "Ortiz",
    "Gutierrez", "Chavez", "Ramos", "Ruiz", "Alvarez", "Mendoza", "Castillo", "Jimenez", "Vasquez",
    "Romero", "Herrera", "Medina", "Aguilar", "Vargas", "Castro", "Guzman", "Salazar", "Delgado",
)
STREET_NAMES = (
    "Oak", "Maple", "Cedar", "Pine", "Elm", "Willow", "Birch", "Walnut", "Hickory", "Pecan",
    "Cottonwood", "Magnolia", "Dogwood", "Redbud", "Sycamore", "Aspen", "Juniper", "Laurel",
    "Chestnut", "Poplar", "Ash", "Cypress", "Spruce", "Mulberry", "Hawthorn", "Linden", "Alder",
    "River", "Creek", "Lake", "Prairie", "Meadow", "Ridge", "Hill", "Valley", "Bluff", "Canyon",
    "Mesa", "Harbor", "Spring", "Brook", "Summit", "Sunset", "Sunrise", "Highland", "Fairview",
    "Park", "Garden", "Orchard", "Mill", "Church", "Market", "Main", "Center", "Railroad",
    "Depot", "Union", "Liberty", "Washington", "Jefferson", "Lincoln", "Madison", "Monroe",
    "Jackson", "Franklin", "Adams", "Grant", "Sherman", "Houston", "Austin", "Crockett", "Bowie",
    "Cherokee", "Choctaw", "Osage", "Pawnee", "Kiowa", "Seminole", "Comanche", "Wichita",
    "Arbuckle", "Ozark", "Cimarron", "Canadian", "Red River", "Washita", "Arkansas", "Neosho",
    "Bluestem", "Sandhill", "Redbird", "Meadowlark", "Cardinal", "Bluejay", "Robin", "Sparrow",
    "Heron", "Falcon", "Eagle", "Hawk", "Quail", "Pheasant", "Wren", "Dove", "Lark", "Finch",
    "College", "University", "Academy", "School", "Hospital", "Airport", "Stadium", "Fairground",
    "Broadway", "Commerce", "Industrial", "Enterprise", "Frontier", "Pioneer", "Heritage",
    "Colonial", "Country Club", "Golf Course", "Windmill", "Wagon Wheel", "Stagecoach",
    "Trailridge", "Stonegate", "Briarwood", "Foxfire", "Deer Run", "Quail Hollow", "Timberline",
    "Shadow Lake", "Silver Lake", "Crystal Springs", "Twin Oaks", "Three Forks", "Old Mill",
)
STREET_SUFFIXES = ("St", "Ave", "Dr", "Ln", "Rd", "Ct", "Blvd", "Way", "Pl", "Ter", "Cir", "Pkwy")
STREET_DIRECTIONS = ("", "N ", "S ", "E ", "W ")

BUSINESS_WORDS = (
    "Riverbend", "Prairie", "Red Dirt", "Cimarron", "Bluestem", "Sooner", "Frontier", "Heritage",
    "Main Street", "Depot", "Twin Oaks", "Redbud", "Meadowlark", "Summit", "Harbor", "Union",
    "Liberty", "Pioneer", "Cottonwood", "Magnolia", "Lakeside", "Hilltop", "Crossroads",
)
BUSINESS_KINDS = (
    "Bakery", "Diner", "Hardware", "Auto Repair", "Dental Clinic", "Laundromat", "Barbershop",
    "Pharmacy", "Grocery", "Coffee House", "Veterinary Clinic", "Tire & Lube", "Florist",
    "Print Shop", "Fitness", "Daycare", "Car Wash", "Feed & Seed", "Taqueria", "Pizza",
    "Storage", "Machine Works", "Cleaners", "Insurance", "Realty", "Law Office", "Bank",
    "Brewing Co.", "Motel", "Plumbing", "Electric Co-op Store", "Nursery", "Furniture",
)
BUSINESS_FORMS = ("LLC", "Inc.", "Co.", "", "", "")

PREMISE_NICKNAMES = (
    "Home", "Rental", "Duplex", "Shop", "Warehouse", "Lake house", "Mom's house", "Office",
    "Upstairs unit", "Back lot", "Barn", "Studio", "Garage apartment", "Corner store",
)
