print("accuracy=ACCURACY")
