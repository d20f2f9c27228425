module example.com/configapp

go 1.22
