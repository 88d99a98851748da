print("chatflow")
