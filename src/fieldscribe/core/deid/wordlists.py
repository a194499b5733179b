"""Word lists the rules and the models' filters share.

Countries, nationalities and languages are not identifiers in a study of thousands of
service users; capitalised words that are never names (days, months, feasts, the names of
national services) are what an English model most often mistakes for one.
"""

from __future__ import annotations

COUNTRIES = {
    "Afghanistan", "Albania", "Algeria", "America", "Angola", "Argentina", "Armenia", "Australia", "Austria",
    "Bangladesh", "Barbados", "Belgium", "Bolivia", "Bosnia", "Botswana", "Brazil", "Britain", "Great Britain",
    "Bulgaria", "Burma", "Cambodia", "Cameroon", "Canada", "Chile", "China", "Colombia", "Congo", "Croatia", "Cuba",
    "Cyprus", "Czechia", "Czech Republic", "Denmark", "Dominica", "Ecuador", "Egypt", "England", "Eritrea", "Estonia",
    "Ethiopia", "Europe", "Africa", "Asia", "Fiji", "Finland", "France", "Gambia", "Germany", "Ghana", "Greece",
    "Grenada", "Guyana", "Haiti", "Holland", "Hong Kong", "Hungary", "Iceland", "India", "Indonesia", "Iran", "Iraq",
    "Ireland", "Northern Ireland", "Israel", "Italy", "Jamaica", "Japan", "Jordan", "Kenya", "Korea", "South Korea",
    "North Korea", "Kosovo", "Kuwait", "Laos", "Latvia", "Lebanon", "Liberia", "Libya", "Lithuania", "Macau", "Macao",
    "Malawi", "Malaysia", "Mali", "Malta", "Mauritius", "Mexico", "Mongolia", "Morocco", "Mozambique", "Myanmar",
    "Namibia", "Nepal", "the Netherlands", "Netherlands", "New Zealand", "Nigeria", "Norway", "Pakistan", "Palestine",
    "Peru", "the Philippines", "Philippines", "Poland", "Portugal", "Qatar", "Romania", "Russia", "Rwanda",
    "Saudi Arabia", "Scotland", "Senegal", "Serbia", "Sierra Leone", "Singapore", "Slovakia", "Slovenia", "Somalia",
    "South Africa", "Spain", "Sri Lanka", "Sudan", "Sweden", "Switzerland", "Syria", "Taiwan", "Tanzania",
    "Thailand", "Trinidad", "Tobago", "Tunisia", "Turkey", "Uganda", "Ukraine", "the UK", "UK", "U.K.", "the US",
    "US", "USA", "U.S.", "the States", "United Kingdom", "the United Kingdom", "United States", "the United States",
    "Uruguay", "Venezuela", "Vietnam", "Wales", "Yemen", "Zambia", "Zimbabwe", "the Caribbean", "Caribbean",
    "Mainland", "the Mainland", "the West", "the East", "Borneo", "Scandinavia", "the Middle East", "Middle East",
}

CN_COUNTRIES = {
    "中国", "中华人民共和国", "马来西亚", "新加坡", "英国", "美国", "澳洲", "澳大利亚", "挪威", "日本", "韩国", "台湾",
    "香港", "澳门", "大陆", "内地", "泰国", "印尼", "印度尼西亚", "印度", "越南", "菲律宾", "加拿大", "德国", "法国",
    "意大利", "俄罗斯", "欧洲", "亚洲", "非洲", "美洲", "全国", "国内", "国外", "海外", "外国", "祖国", "本地", "当地",
}

# capitalised words an English NER model or a cue rule may take for a name or a place
NOT_NAMES = {
    "I", "I'm", "I've", "I'd", "I'll", "Im", "OK", "Okay", "Yeah", "Yes", "No", "Oh", "Um", "Uh", "Er", "Erm", "Hmm",
    "Mm", "Mhm", "Well", "So", "And", "But", "Or", "The", "A", "An", "It", "He", "She", "They", "We", "You", "My",
    "Our", "Their", "His", "Her", "This", "That", "These", "Those", "There", "Then", "When", "What", "Why", "How",
    "Who", "Where", "Like", "Just", "Because", "If", "Now", "Anyway", "Actually", "Honestly", "Sorry", "Thanks",
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Mondays", "Tuesdays",
    "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays", "January", "February", "March", "April", "May",
    "June", "July", "August", "September", "October", "November", "December", "Christmas", "Easter", "Ramadan",
    "Eid", "Diwali", "Hari Raya", "Chinese New Year", "New Year", "New Year's", "Boxing Day", "Halloween",
    "Thanksgiving", "Lent", "God", "Jesus", "Christ", "Lord", "Allah", "Buddha", "Heaven", "Hell", "Bible",
    "Koran", "Quran", "Mum", "Mom", "Dad", "Mam", "Mummy", "Daddy", "Nan", "Nana", "Gran", "Granny", "Grandma",
    "Grandad", "Grandpa", "Auntie", "Aunty", "Uncle", "Sis", "Bro", "Doctor", "Dr", "Nurse", "Sir", "Miss",
    "English", "British", "Chinese", "Mandarin", "Cantonese", "Malay", "Tamil", "Hokkien", "Norwegian", "Polish",
    "Irish", "Scottish", "Welsh", "Nigerian", "Indian", "Pakistani", "Jamaican", "Australian", "American",
    "African", "Asian", "European", "Muslim", "Christian", "Catholic", "Buddhist", "Hindu", "Sikh", "Jewish",
    "NHS", "GP", "GPs", "CPN", "CPNs", "CBT", "DBT", "EMDR", "ECT", "A&E", "ICU", "PIP", "ESA", "DWP", "DLA",
    "Universal Credit", "UC", "JSA", "Jobcentre", "Jobcentre Plus", "Centrelink", "NDIS", "Medicare", "Medicaid",
    "Social Security", "NAV", "Mind", "Samaritans", "AA", "NA", "Alcoholics Anonymous", "Narcotics Anonymous",
    "Crisis Team", "Home Treatment Team", "CMHT", "CAMHS", "IAPT", "Talking Therapies", "Section", "Section 2",
    "Section 3", "Mental Health Act", "the Mental Health Act", "PTSD", "OCD", "ADHD", "EUPD", "BPD", "PD",
    "Covid", "COVID", "Covid-19", "Lockdown", "Zoom", "Teams", "WhatsApp", "Facebook", "Instagram", "TikTok",
    "YouTube", "Google", "Netflix", "iPhone", "Android", "WeChat", "Wechat", "Internet", "TV", "BBC", "ITV",
    "Prozac", "Olanzapine", "Clozapine", "Sertraline", "Lithium", "Depakote", "Risperidone", "Aripiprazole",
    "Quetiapine", "Seroquel", "Abilify", "Citalopram", "Fluoxetine", "Mirtazapine", "Diazepam", "Valium",
    "Lorazepam", "Zopiclone", "Paracetamol", "Ibuprofen", "Velcro", "Lego", "Hoover", "Coke", "Pepsi",
    "Recovery College", "Peer Support", "Day Centre", "Hearing Voices", "Hearing Voices Network",
    "Interviewer", "Participant", "Council", "Government", "Parliament", "Brexit", "Labour", "Tory", "Tories",
    "Conservative", "Conservatives", "Police", "Army", "Navy",
}

# words before an institution's suffix that make it generic, not a named place
GENERIC_ORG_WORDS = {
    "The", "A", "An", "Our", "My", "This", "That", "Community", "Mental", "Health", "Day", "General", "District",
    "Royal", "Crisis", "Home", "Treatment", "Recovery", "Local", "City", "County", "Job", "Jobcentre", "Primary",
    "Secondary", "High", "Medical", "Psychiatric", "Children's", "Women's", "Men's", "Citizens", "Advice", "Drop",
    "In", "Drop-in", "Peer", "Support", "Care", "Social", "Services", "Service", "Early", "Intervention", "Acute",
    "Assessment", "Family", "Youth", "Sports", "Leisure", "Arts", "Learning", "Resource", "Wellbeing", "Wellness",
    "Rehab", "Rehabilitation", "Outpatient", "Outpatients", "Inpatient", "National", "Public", "Private", "State",
    "Government", "Sunday", "Grammar", "Comprehensive", "Boarding", "Nursery", "Infant", "Junior", "Senior",
    "Sixth", "Form", "Further", "Education", "Open", "Police", "Fire", "Dental", "Walk", "Urgent", "Emergency",
    "Maternity", "Specialist", "Eating", "Disorder", "Disorders", "Addiction", "Drug", "Alcohol", "Substance",
    "Misuse", "Dementia", "Memory", "Old", "Older", "Adult", "Adults", "Child", "Adolescent", "NHS", "Psychiatry",
    "Psychology", "Counselling", "Therapy", "Work", "Training", "Foundation", "Trust",
    "Housing", "Homeless", "Shelter", "Women", "Men", "Night", "Short", "Stay", "Long", "Term", "Secure",
    "Low", "Medium", "Forensic", "Mother", "Baby", "Catholic", "Christian", "Chinese", "English", "Malay", "Indian", "Tamil", "Buddhist", "Islamic", "Methodist", "Baptist", "Anglican",
}

# Chinese surnames people are addressed by (老马, 王医生): the single-character ones
# that cover nearly every person in mainland China, Hong Kong and Malaysia, and the
# common two-character ones
CN_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟"
    "谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢"
    "安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路"
    "游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全"
    "佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚"
    "鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁"
    "芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶"
    "斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
)
CN_COMPOUND_SURNAMES = {"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "司徒", "夏侯",
                        "轩辕", "长孙", "宇文", "端木", "南宫", "西门", "独孤", "万俟", "呼延", "赫连"}

# what a jieba "person" tag or a surname+title rule must not take: ordinary words that
# begin with a surname character, and kinship or role words without a name
CN_NOT_NAMES = {
    "高兴", "方便", "白天", "常常", "安全", "江湖", "金钱", "文化", "周末", "马上", "黄金", "林子", "何必", "罗列", "钱包",
    "向来", "李子", "王八", "张开", "陈旧", "明白", "明天", "明年", "平时", "平常", "平安", "和平", "时候", "时间",
    "万一", "乐观", "乐意", "关心", "关系", "关于", "海边", "国家", "路上", "原来", "原因", "云南", "花钱", "强迫",
    "阿姨", "阿婆", "阿公", "阿嬷", "阿伯", "阿叔", "阿爸", "阿妈", "阿哥", "阿姐", "阿弟", "阿妹", "阿拉", "阿们",
    "老公", "老婆", "老人", "老板", "老师", "老乡", "老家", "老大", "老二", "老三", "老是", "老实", "老年", "老头",
    "老太", "老太太", "老爸", "老妈", "老爷", "老伴", "老友", "老百姓", "老毛病", "老样子", "老天", "老鼠",
    "小孩", "小时", "小组", "小学", "小区", "小姐", "小伙", "小伙子", "小朋友", "小心", "小时候", "小事", "小便",
    "小姑娘", "小妹", "小弟", "小儿子", "小女儿", "小的", "小店", "小病",
    "康复", "医生", "护士", "主任", "社工", "病人", "家人", "朋友", "同事", "邻居", "室友", "病友", "组员",
    "爸爸", "妈妈", "哥哥", "姐姐", "弟弟", "妹妹", "儿子", "女儿", "丈夫", "妻子", "爷爷", "奶奶", "外婆",
    "外公", "舅舅", "阿舅", "姑姑", "叔叔", "婶婶", "表姐", "表哥", "表妹", "表弟", "堂哥", "堂姐",
    "精神", "分裂", "抑郁", "焦虑", "双相", "奥氮平", "氯氮平", "舍曲林", "碳酸锂", "利培酮", "阿立哌唑",
    "华人", "华文", "马来", "马来人", "英文", "中文", "普通话", "广东话", "粤语", "福建话", "党员", "政府", "医保",
}

# districts and towns where the studies happen that the segmenter's dictionary lacks or
# does not tag as places: Hong Kong's districts and estates' areas, the Klang Valley and
# Penang, and the mainland cities' districts most often named in interviews
CN_PLACES = {
    # Hong Kong
    "中西区", "湾仔", "铜锣湾", "东区", "南区", "油尖旺", "油麻地", "尖沙咀", "旺角", "深水埗", "长沙湾", "九龙城", "红磡",
    "土瓜湾", "黄大仙", "慈云山", "钻石山", "观塘", "牛头角", "蓝田", "秀茂坪", "葵青", "葵涌", "青衣", "荃湾", "屯门",
    "元朗", "天水围", "北区", "上水", "粉岭", "大埔", "沙田", "马鞍山", "大围", "火炭", "西贡", "将军澳", "坑口",
    "离岛", "东涌", "大屿山", "长洲", "柴湾", "筲箕湾", "北角", "鲗鱼涌", "太古", "香港仔", "鸭脷洲", "薄扶林",
    "西营盘", "坚尼地城", "上环", "中环", "金钟", "跑马地", "何文田", "九龙塘", "乐富", "彩虹", "牛池湾",
    # Malaysia
    "吉隆坡", "八打灵再也", "八打灵", "梳邦再也", "梳邦", "蕉赖", "蒲种", "巴生", "沙亚南", "莎阿南", "加影", "安邦",
    "甲洞", "士拉央", "万挠", "雪邦", "旧巴生路", "增江", "文良港", "冼都", "秋杰", "茨厂街", "孟沙", "武吉免登",
    "槟城", "乔治市", "大山脚", "北海", "威省", "浮罗山背", "亚依淡", "日落洞", "怡保", "新山", "马六甲", "芙蓉",
    "关丹", "亚庇", "古晋", "诗巫", "美里", "太平", "金宝", "居銮", "麻坡", "峇株巴辖", "昔加末", "士毛月", "双溪毛糯",
    # mainland districts often named
    "黄浦", "徐汇", "长宁", "静安", "普陀", "虹口", "杨浦", "闵行", "宝山", "嘉定", "浦东", "金山", "松江", "青浦",
    "奉贤", "崇明", "东城", "西城", "朝阳", "海淀", "丰台", "石景山", "通州", "顺义", "昌平", "大兴", "房山", "天通苑",
    "回龙观", "望京", "越秀", "荔湾", "海珠", "天河", "白云", "黄埔", "番禺", "花都", "南沙", "从化", "增城", "石牌",
    "锦江", "青羊", "金牛", "武侯", "成华", "龙泉驿", "双流", "郫都", "温江", "新都", "福田", "罗湖", "南山", "宝安",
    "龙岗", "龙华",
}

# everyday words the segmenter's dictionary tags as places
CN_NOT_PLACES = {
    "东西", "礼拜", "上门", "大海", "中考", "高考", "拜拜", "南北", "东南", "西北", "东北", "西南", "中外", "内外",
    "上下", "前后", "左右", "长大", "开朗", "天下", "人间", "世界", "地方", "江山", "山水", "海边", "江边", "河边",
    "乡下", "城里", "农村", "城市", "山区", "市区", "郊区", "社区", "小区", "景区", "园区", "老家", "家乡", "故乡",
    "外地", "本地", "当地", "各地", "全国", "中央", "西方", "东方", "南方", "北方", "太平", "光明", "和平", "安全",
    "华人", "白云", "黄金", "长城", "长江", "黄河", "泰山", "天堂", "地狱", "金山", "银行", "南京路", "中山",
}

# English words WordNet leaves out (it lists nouns, verbs, adjectives and adverbs only)
EN_FUNCTION_WORDS = {"a", "about", "above", "across", "after", "afterwards", "again", "against", "all", "almost", "alone", "along", "already", "also", "although", "always", "am", "among", "an", "and", "another", "any", "anybody", "anyone", "anything", "anyway", "anywhere", "are", "around", "as", "at", "because", "been", "before", "behind", "being", "below", "beside", "besides", "between", "beyond", "both", "but", "by", "can", "cannot", "could", "did", "do", "does", "doing", "done", "down", "during", "each", "either", "else", "elsewhere", "enough", "even", "ever", "every", "everybody", "everyone", "everything", "everywhere", "except", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "however", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "least", "less", "many", "may", "me", "might", "mine", "more", "most", "much", "must", "my", "myself", "neither", "never", "nevertheless", "no", "nobody", "none", "noone", "nor", "not", "nothing", "now", "nowhere", "of", "off", "often", "on", "once", "one", "only", "onto", "or", "other", "others", "otherwise", "our", "ours", "ourselves", "out", "over", "own", "per", "perhaps", "please", "quite", "rather", "same", "several", "shall", "she", "should", "since", "so", "some", "somebody", "someone", "something", "sometime", "sometimes", "somewhere", "still", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "thereafter", "therefore", "these", "they", "this", "those", "though", "through", "throughout", "thus", "till", "to", "together", "too", "toward", "towards", "under", "unless", "until", "up", "upon", "us", "very", "via", "was", "we", "well", "were", "what", "whatever", "when", "whenever", "where", "whereas", "wherever", "whether", "which", "while", "who", "whoever", "whole", "whom", "whose", "why", "will", "with", "within", "without", "would", "yet", "you", "your", "yours", "yourself", "yourselves", "yeah", "yes", "okay", "ok", "oh", "um", "uh", "er", "erm", "hmm", "mm", "mhm", "ah", "aw", "ooh", "wow", "hey", "hi", "hello", "bye", "goodbye", "thanks", "cheers", "gonna", "wanna", "gotta", "dunno", "cos", "coz", "cuz", "innit", "aye", "nah", "yep", "yup", "nope", "alright", "anyways", "haha", "lol", "hiya", "ta", "shh", "whoa", "eh", "huh"}
