"""A small English word list for random espeak-ng utterances (common words, written for this project)."""

WORDS: tuple[str, ...] = tuple(dict.fromkeys("""
zero one two three four five six seven eight nine ten eleven twelve twenty hundred thousand
yes no up down left right on off stop go start open close turn move wait look listen follow
come back forward home house room door window table chair floor wall kitchen garden street city
river mountain forest ocean island bridge road station market school office library hospital
morning evening night today tomorrow yesterday minute hour week month year season summer winter
spring autumn rain snow wind cloud sun moon star light dark warm cold hot cool quiet loud
red blue green yellow orange purple white black brown grey silver golden bright
apple bread butter cheese coffee tea water milk sugar salt pepper orange lemon carrot potato
tomato onion rice pasta soup cake honey cookie dinner lunch breakfast
dog cat horse bird fish rabbit mouse lion tiger bear wolf fox eagle owl duck sheep goat
father mother brother sister friend teacher doctor driver farmer pilot painter singer baker
robot engine motor wheel sensor signal battery cable switch button screen camera speaker
music piano guitar violin drum song voice sound noise echo silence rhythm melody
happy sad angry calm brave gentle clever simple strong quick slow early late new old young
small large little big long short high low near far full empty soft hard heavy light
read write speak talk sing play walk run jump swim climb drive ride fly sleep dream think
learn teach help bring carry build paint draw cook clean wash watch find keep give take
make show tell call ask answer begin finish change choose remember forget travel visit
paper pencil letter number picture story question answer problem reason moment
computer phone message network system program language science history picture
village country world north south east west center corner middle edge side
""".split()))
"""Unique words, in a fixed order."""
