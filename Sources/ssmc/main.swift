print("ssmc")
